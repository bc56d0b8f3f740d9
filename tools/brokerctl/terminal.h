// What brokerctl does differently when a person is at the terminal: ask before a
// destructive verb, and show progress of bulk operations on stderr. Scripts (pipes,
// files, cron) get neither: no prompt to hang on, no carriage returns in their logs.
#pragma once

#include <cstdint>
#include <string>

namespace brokerctl {

bool stdin_is_terminal();
bool stderr_is_terminal();

// Asks `question` on stderr and reads one line from stdin: true for "y" or "yes" (any
// case). Use only when stdin_is_terminal().
bool confirm(const std::string& question);

// "purged 12000/50000" rewritten in place on stderr while a bulk operation runs, when
// stderr is a terminal; nothing otherwise.
class Progress {
 public:
  explicit Progress(std::string verb);  // e.g. "purged"
  ~Progress();                          // ends the line if anything was shown
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(uint64_t done, uint64_t total);
  // Ends the progress line now (e.g. before an error message); later updates show nothing.
  void end();

 private:
  std::string verb_;
  bool enabled_;
  bool shown_ = false;
};

}  // namespace brokerctl
