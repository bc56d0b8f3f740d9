#pragma once

#include <cstdint>
#include <string>

namespace brokerd::server {

// A time-ordered (version 7, RFC 9562) UUID in canonical lower-case form: 48 bits of
// `unix_ms`, a 12-bit counter that keeps ids from one thread strictly increasing within
// a millisecond, then 62 random bits. Generated ids sort by creation time, so a task's
// record lands next to its neighbours in time: RocksDB's memtable inserts stay near the
// previous one instead of searching the whole skip list, and SST files hold tasks of a
// similar age. Thread-safe.
std::string make_uuid_v7(int64_t unix_ms);

}  // namespace brokerd::server
