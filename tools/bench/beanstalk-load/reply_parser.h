// beanstalk-load: parsing the replies of beanstalkd's text protocol (protocol.txt of
// beanstalkd 1.12) that the put and reserve+delete loops can receive. A reply is one
// "\r\n"-terminated line, except RESERVED, which is followed by the job body and "\r\n".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace beanstalk_load {

enum class ReplyKind {
  kInserted,      // INSERTED <id>: a put was stored (and, with a binlog, logged)
  kReserved,      // RESERVED <id> <bytes>\r\n<data>: a job handed to this connection
  kDeleted,       // DELETED
  kTimedOut,      // TIMED_OUT: reserve-with-timeout found nothing ready
  kDeadlineSoon,  // DEADLINE_SOON: a job this connection holds is near its TTR
  kOther,         // anything else (BURIED, OUT_OF_MEMORY, NOT_FOUND, ...): an error here
};

struct Reply {
  ReplyKind kind = ReplyKind::kOther;
  uint64_t id = 0;
  std::string line;  // the first line without "\r\n", kept only for kOther (messages)
};

enum class ParseResult { kReply, kNeedMore, kCorrupt };

// Parses the first reply in `data`. On kReply fills `reply` and sets `consumed` to the
// bytes it took; kNeedMore asks for more input; kCorrupt means the stream cannot be
// read (a line far too long, or a malformed RESERVED header).
ParseResult parse_reply(std::string_view data, Reply& reply, size_t& consumed);

}  // namespace beanstalk_load
