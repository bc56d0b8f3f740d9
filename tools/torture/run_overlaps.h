// broker-torture, checker: "one worker process never runs one task in two handlers at
// once". Reads the D (run started) and F (run ended) lines of one worker process's journal
// (worker_role.h) and reports every pair of runs of one task id that overlapped.
//
// Both lines carry numbers from one per-process counter (<run> when a run starts, <seq>
// when it ends), so "run B started before run A ended" is a comparison of two numbers,
// with no ties. A run with no F line never ended (the process was killed, or a poison
// task took it down, while it ran): any later run of that task in the same process
// overlapped it. Runs in different processes are not compared; at-least-once allows them
// to overlap.
//
// Pure functions, no I/O: tests/tools/torture/run_overlaps_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "journal.h"

namespace torture {

// One handler run in one process.
struct HandlerRun {
  std::string task_id;
  uint64_t start = 0;               // <run> of its D line
  std::optional<uint64_t> end;      // <seq> of its F line; none: it never ended
  int64_t start_ms = 0;             // for the message
};

// The runs that one worker process's journal records. D lines without a <run> (older
// journals) are skipped.
std::vector<HandlerRun> handler_runs(const JournalContents& journal);

// Per task id, runs that started before an earlier run of the same id had ended.
struct RunOverlaps {
  std::vector<std::string> violations;  // one line each, naming the task and both runs
  uint64_t same_process_reruns = 0;     // runs of a task in a process after its first one
};
RunOverlaps find_run_overlaps(const std::vector<HandlerRun>& runs);

}  // namespace torture
