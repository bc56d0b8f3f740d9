// The log file sink: appends to one file, rotates it by size, and can be reopened at the
// same path (SIGHUP), so that logrotate's move-then-HUP works as well as brokerd's own
// rotation.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>

namespace brokerd::server {

class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Opens (creating) `path` for appending; throws spdlog::spdlog_ex when it cannot.
  // `max_size_bytes` 0: never rotate. Otherwise, before a record would make the file larger
  // than that, PATH.(N-1) is renamed to PATH.N ... PATH to PATH.1 and PATH starts empty;
  // with `max_files` 0 PATH is truncated instead.
  ReopenableFileSink(std::string path, uint64_t max_size_bytes, size_t max_files);

  // Closes the file and opens `path` again (creating it if it was moved away). On failure
  // the old file stays in use and the reason is returned; empty on success.
  std::string reopen();

  const std::string& path() const { return path_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  void rotate_locked();

  const std::string path_;
  const uint64_t max_size_bytes_;
  const size_t max_files_;
  std::unique_ptr<spdlog::details::file_helper> file_;
  uint64_t size_ = 0;
};

}  // namespace brokerd::server
