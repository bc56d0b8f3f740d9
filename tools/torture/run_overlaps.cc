#include "run_overlaps.h"

#include <algorithm>
#include <charconv>
#include <map>

namespace torture {

namespace {

std::optional<uint64_t> parse_number(const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::string describe(const HandlerRun& run) {
  return "run #" + std::to_string(run.start) + " (started at " + std::to_string(run.start_ms) + " ms, " +
         (run.end ? "ended at #" + std::to_string(*run.end) : std::string("never ended")) + ")";
}

}  // namespace

std::vector<HandlerRun> handler_runs(const JournalContents& journal) {
  std::vector<HandlerRun> runs;
  std::map<std::pair<std::string, uint64_t>, size_t> by_start;  // (id, run) -> index in runs
  for (const auto& line : journal.lines) {
    if (line[0] == "D" && line.size() == 6) {
      const std::optional<uint64_t> run = parse_number(line[5]);
      const std::optional<uint64_t> at = parse_number(line[1]);
      if (!run) continue;
      by_start[{line[2], *run}] = runs.size();
      runs.push_back({line[2], *run, std::nullopt, at ? static_cast<int64_t>(*at) : -1});
    } else if (line[0] == "F" && line.size() == 5) {
      const std::optional<uint64_t> run = parse_number(line[3]);
      const std::optional<uint64_t> end = parse_number(line[4]);
      if (!run || !end) continue;
      const auto found = by_start.find({line[2], *run});
      if (found != by_start.end()) runs[found->second].end = *end;
    }
  }
  return runs;
}

RunOverlaps find_run_overlaps(const std::vector<HandlerRun>& runs) {
  std::map<std::string, std::vector<const HandlerRun*>> by_task;
  for (const HandlerRun& run : runs) by_task[run.task_id].push_back(&run);
  RunOverlaps overlaps;
  for (auto& [id, task_runs] : by_task) {
    overlaps.same_process_reruns += task_runs.size() - 1;
    std::sort(task_runs.begin(), task_runs.end(),
              [](const HandlerRun* a, const HandlerRun* b) { return a->start < b->start; });
    // The run that ends last among those started so far: a later start before its end
    // overlaps it (and is the clearest pair to name).
    const HandlerRun* latest_end = task_runs.front();
    for (size_t i = 1; i < task_runs.size(); ++i) {
      const HandlerRun& run = *task_runs[i];
      if (!latest_end->end || run.start < *latest_end->end) {
        overlaps.violations.push_back(id + ": overlapping runs in one worker process: " + describe(run) +
                                      " started before " + describe(*latest_end) + " ended");
      }
      if (latest_end->end && (!run.end || *run.end > *latest_end->end)) latest_end = &run;
    }
  }
  return overlaps;
}

}  // namespace torture
