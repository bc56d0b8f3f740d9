// broker-torture: the append-only journals that producers and workers keep, and the
// reader the checker uses.
//
// A journal line is written only after the fact it records has happened (an EnqueueOk
// was received, a handler started, a durable result was read back), so a process killed
// with SIGKILL loses at most facts it had not yet learned. Each line goes to the kernel in
// one write(2) on an O_APPEND descriptor: lines from several threads never interleave,
// and the page cache keeps them when the process dies (only the machine crashing could
// lose them, and this tool kills processes, not machines). A line cut short by a kill has
// no trailing newline; the reader drops it.
//
// Thread safety: JournalWriter::append may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace torture {

class JournalWriter {
 public:
  // Opens (creating, appending) `path`. Exits the process with status 2 if it cannot:
  // a torture child without its journal would make every check meaningless.
  explicit JournalWriter(const std::string& path);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Writes `line` plus '\n' in one write(2).
  void append(const std::string& line);

 private:
  int fd_ = -1;
};

// The complete lines of `path`, split on spaces; a torn last line is dropped and counted.
struct JournalContents {
  std::vector<std::vector<std::string>> lines;
  uint64_t torn_lines = 0;
};
JournalContents read_journal(const std::string& path);

// Milliseconds on CLOCK_MONOTONIC: one clock for every process on the machine, so the
// checker can order lines written by different processes.
int64_t monotonic_ms();

}  // namespace torture
