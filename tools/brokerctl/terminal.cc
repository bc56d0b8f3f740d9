#include "terminal.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iostream>

namespace brokerctl {

bool stdin_is_terminal() { return isatty(STDIN_FILENO) == 1; }
bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

bool confirm(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  std::transform(answer.begin(), answer.end(), answer.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return answer == "y" || answer == "yes";
}

Progress::Progress(std::string verb) : verb_(std::move(verb)), enabled_(stderr_is_terminal()) {}

Progress::~Progress() { end(); }

void Progress::end() {
  if (shown_) std::cerr << '\n' << std::flush;
  shown_ = false;
  enabled_ = false;
}

void Progress::update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  shown_ = true;
  std::cerr << '\r' << verb_ << ' ' << done << '/' << std::max(done, total) << std::flush;
}

}  // namespace brokerctl
