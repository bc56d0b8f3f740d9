#include "journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace torture {

JournalWriter::JournalWriter(const std::string& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    std::fprintf(stderr, "broker-torture: cannot open journal %s: %s\n", path.c_str(), std::strerror(errno));
    std::exit(2);
  }
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::append(const std::string& line) {
  const std::string data = line + "\n";
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "broker-torture: journal write failed: %s\n", std::strerror(errno));
      std::exit(2);
    }
    written += static_cast<size_t>(n);
  }
}

JournalContents read_journal(const std::string& path) {
  JournalContents contents;
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = 0;
  while (start < data.size()) {
    const size_t end = data.find('\n', start);
    if (end == std::string::npos) {
      ++contents.torn_lines;  // killed in the middle of a write
      break;
    }
    std::istringstream fields(data.substr(start, end - start));
    std::vector<std::string> line;
    for (std::string field; fields >> field;) line.push_back(std::move(field));
    if (!line.empty()) contents.lines.push_back(std::move(line));
    start = end + 1;
  }
  return contents;
}

int64_t monotonic_ms() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

}  // namespace torture
