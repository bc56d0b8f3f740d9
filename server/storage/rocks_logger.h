// RocksDB's informational log, sent to brokerd's own log instead of <data dir>/LOG.
//
// Why: the LOG file lives on the data disk. When that disk is full, RocksDB's file logger
// fails one append and then, on the next message, trips an assertion in its file writer
// (Debian's librocksdb keeps assertions): brokerd would abort just when it should keep
// serving reads. brokerd's log never asserts, is rotated by the operator, and puts
// RocksDB's own account of an error (background error, recovery) next to brokerd's.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>

#include <rocksdb/env.h>
#include <spdlog/spdlog.h>

namespace brokerd::server {

class RocksLogger final : public rocksdb::Logger {
 public:
  RocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}

  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }

  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    // Informational lines (flushes, compactions, option dumps) are many: trace, so that
    // --log-level debug stays about brokerd.
    const spdlog::level::level_enum mapped = level >= rocksdb::InfoLogLevel::FATAL_LEVEL   ? spdlog::level::critical
                                             : level == rocksdb::InfoLogLevel::ERROR_LEVEL ? spdlog::level::err
                                             : level == rocksdb::InfoLogLevel::WARN_LEVEL  ? spdlog::level::warn
                                                                                           : spdlog::level::trace;
    if (!spdlog::should_log(mapped)) return;
    char buffer[1024];
    va_list copy;
    va_copy(copy, ap);
    const int length = std::vsnprintf(buffer, sizeof(buffer), format, copy);
    va_end(copy);
    if (length < 0) return;
    std::string text(buffer, std::min<size_t>(static_cast<size_t>(length), sizeof(buffer) - 1));
    while (!text.empty() && text.back() == '\n') text.pop_back();
    spdlog::log(mapped, "rocksdb: {}", text);
  }
};

}  // namespace brokerd::server
