#include "log.h"

#include <cstdio>
#include <string>

namespace brokerd::internal {
namespace {

void write_line(std::string_view level, std::string_view message) {
  std::string line = "brokerd-client: ";
  line.append(level);
  line.append(": ");
  line.append(message);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void log_warning(std::string_view message) { write_line("warning", message); }
void log_notice(std::string_view message) { write_line("notice", message); }

}  // namespace brokerd::internal
