#include "reply_parser.h"

#include <charconv>

namespace beanstalk_load {

namespace {

// No reply line of the commands we send comes near this; a longer line means the
// stream is not what we think it is.
constexpr size_t kMaxLine = 256;

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// Parses a decimal number at the start of `text`, advancing it past the number.
bool take_number(std::string_view& text, uint64_t& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data()) return false;
  text.remove_prefix(static_cast<size_t>(end - text.data()));
  return true;
}

}  // namespace

ParseResult parse_reply(std::string_view data, Reply& reply, size_t& consumed) {
  const size_t eol = data.find("\r\n");
  if (eol == std::string_view::npos) return data.size() > kMaxLine ? ParseResult::kCorrupt : ParseResult::kNeedMore;
  const std::string_view line = data.substr(0, eol);
  reply = Reply{};
  consumed = eol + 2;

  if (starts_with(line, "INSERTED ")) {
    std::string_view rest = line.substr(9);
    reply.kind = ReplyKind::kInserted;
    return take_number(rest, reply.id) && rest.empty() ? ParseResult::kReply : ParseResult::kCorrupt;
  }
  if (starts_with(line, "RESERVED ")) {
    std::string_view rest = line.substr(9);
    uint64_t bytes = 0;
    if (!take_number(rest, reply.id) || !starts_with(rest, " ")) return ParseResult::kCorrupt;
    rest.remove_prefix(1);
    if (!take_number(rest, bytes) || !rest.empty()) return ParseResult::kCorrupt;
    // The body and its "\r\n" must have arrived too.
    if (data.size() - consumed < bytes + 2) return ParseResult::kNeedMore;
    if (data.substr(consumed + bytes, 2) != "\r\n") return ParseResult::kCorrupt;
    consumed += bytes + 2;
    reply.kind = ReplyKind::kReserved;
    return ParseResult::kReply;
  }
  if (line == "DELETED") {
    reply.kind = ReplyKind::kDeleted;
  } else if (line == "TIMED_OUT") {
    reply.kind = ReplyKind::kTimedOut;
  } else if (line == "DEADLINE_SOON") {
    reply.kind = ReplyKind::kDeadlineSoon;
  } else {
    reply.kind = ReplyKind::kOther;
    reply.line = std::string(line);
  }
  return ParseResult::kReply;
}

}  // namespace beanstalk_load
