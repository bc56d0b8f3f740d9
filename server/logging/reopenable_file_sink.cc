#include "logging/reopenable_file_sink.h"

#include <filesystem>
#include <system_error>

namespace brokerd::server {

namespace {

std::unique_ptr<spdlog::details::file_helper> open_file(const std::string& path, bool truncate) {
  auto file = std::make_unique<spdlog::details::file_helper>();
  file->open(path, truncate);  // throws spdlog::spdlog_ex
  return file;
}

}  // namespace

ReopenableFileSink::ReopenableFileSink(std::string path, uint64_t max_size_bytes, size_t max_files)
    : path_(std::move(path)), max_size_bytes_(max_size_bytes), max_files_(max_files) {
  file_ = open_file(path_, false);
  size_ = file_->size();
}

std::string ReopenableFileSink::reopen() {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    file_->flush();
    auto fresh = open_file(path_, false);
    file_ = std::move(fresh);  // closes the old one
    size_ = file_->size();
    return {};
  } catch (const spdlog::spdlog_ex& error) {
    return error.what();
  }
}

void ReopenableFileSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  if (!file_) {  // a rotation could not open the file again: retry (throws to spdlog's error handler)
    file_ = open_file(path_, false);
    size_ = file_->size();
  }
  if (max_size_bytes_ > 0 && size_ > 0 && size_ + formatted.size() > max_size_bytes_) rotate_locked();
  file_->write(formatted);
  size_ += formatted.size();
}

void ReopenableFileSink::flush_() {
  if (file_) file_->flush();
}

void ReopenableFileSink::rotate_locked() {
  file_->flush();
  file_.reset();  // closed while it is renamed
  // FILE.(N-1) -> FILE.N, ..., FILE.1 -> FILE.2 (renaming onto FILE.N drops the oldest),
  // then FILE -> FILE.1.
  std::error_code error;
  bool moved = false;
  if (max_files_ > 0) {
    for (size_t i = max_files_; i > 1; --i) {
      const std::string from = path_ + "." + std::to_string(i - 1);
      if (std::filesystem::exists(from, error)) std::filesystem::rename(from, path_ + "." + std::to_string(i), error);
    }
    std::filesystem::rename(path_, path_ + ".1", error);
    moved = !error;
  }
  // With max_files 0 the file is truncated in place. When FILE could not be renamed it is
  // kept and appended to; counting from 0 again retries after another max_size_bytes.
  file_ = open_file(path_, max_files_ == 0 || moved);
  size_ = 0;
}

}  // namespace brokerd::server
