#include "checker.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>

#include <brokerd/client.h>
#include <nlohmann/json.hpp>

#include "client_options.h"
#include "journal.h"
#include "run_overlaps.h"
#include "task_plan.h"

namespace torture {

namespace {

namespace fs = std::filesystem;

// Everything the journals say about one task.
struct TaskFacts {
  bool confirmed = false;
  bool poison = false;
  std::map<uint32_t, uint32_t> runs_by_retries;  // retry number -> handler starts
  std::vector<int64_t> run_times;                // D line times
  std::vector<nlohmann::json> returned;          // R results
  std::vector<nlohmann::json> durable;           // C results
  std::optional<int64_t> first_durable_ms;       // earliest C time
};

int64_t to_int(const std::string& text) {
  try {
    return std::stoll(text);
  } catch (...) {
    return -1;
  }
}

void read_producer_journal(const JournalContents& journal, std::unordered_map<std::string, TaskFacts>& tasks,
                           CheckFigures& figures) {
  for (const auto& line : journal.lines) {
    if (line.size() != 4 || line[0] != "E") continue;
    tasks[line[2]].confirmed = true;
    if (line[3] == "0") ++figures.resent_existing;
  }
}

void read_worker_journal(const JournalContents& journal, std::unordered_map<std::string, TaskFacts>& tasks,
                         CheckFigures& figures) {
  for (const auto& line : journal.lines) {
    if (line.size() < 3) continue;
    const int64_t at = to_int(line[1]);
    TaskFacts& task = tasks[line[2]];
    if (line[0] == "D" && line.size() == 6) {
      ++figures.handler_runs;
      ++task.runs_by_retries[static_cast<uint32_t>(to_int(line[4]))];
      task.run_times.push_back(at);
    } else if (line[0] == "R" && line.size() == 4) {
      ++figures.results_returned;
      task.returned.push_back(nlohmann::json::parse(line[3], nullptr, false));
    } else if (line[0] == "C" && line.size() == 4) {
      task.durable.push_back(nlohmann::json::parse(line[3], nullptr, false));
      if (!task.first_durable_ms || at < *task.first_durable_ms) task.first_durable_ms = at;
    }
  }
}

// The broker's answer for every id, fetched by a few threads over one pipelined Client.
bool fetch_tasks(const std::string& server, const std::vector<std::string>& ids,
                 std::vector<brokerd::Result<brokerd::TaskInfo>>& answers, std::string& error) {
  auto client = brokerd::Client::connect(client_options(server, "torture-checker"));
  if (!client.ok()) {
    error = "cannot connect to brokerd for the check: " + client.status().to_string();
    return false;
  }
  answers.assign(ids.size(), brokerd::Status(brokerd::ErrorCode::kUnavailable, "not asked"));
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < ids.size(); i = next++) answers[i] = (*client)->get_task(ids[i]);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& answer : answers) {
    const brokerd::ErrorCode code = answer.status().code();
    if (!answer.ok() && code != brokerd::ErrorCode::kNotFound) {
      error = "GetTask failed during the check: " + answer.status().to_string();
      return false;
    }
  }
  return true;
}

// "FAILURE (DeliveryLimitExceeded: delivered 3 times ...)", for messages.
std::string end_state(const brokerd::TaskInfo& info) {
  std::string text = brokerd::task_state_name(info.state);
  if (info.error) text += " (" + info.error->type + ": " + info.error->message + ")";
  return text;
}

// A poison task takes its worker down on every delivery, so it can only end when the
// broker gives up on it: FAILURE "DeliveryLimitExceeded", never SUCCESS.
template <typename Violation>
void check_poison_task(const brokerd::TaskInfo& info, Violation& violation, CheckFigures& figures) {
  if (info.state != brokerd::TaskState::kFailure || !info.error || info.error->type != "DeliveryLimitExceeded") {
    violation("wrong end state: poison task ended " + end_state(info) + ", not FAILURE DeliveryLimitExceeded");
    return;
  }
  ++figures.poison_dead_lettered;
}

bool contains(const std::vector<nlohmann::json>& values, const nlohmann::json& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

void check_task(const std::string& id, const TaskFacts& facts, const brokerd::Result<brokerd::TaskInfo>& answer,
                CheckFigures& figures) {
  auto violation = [&](const std::string& what) { figures.violations.push_back(id + ": " + what); };
  if (!answer.ok()) {  // NOT_FOUND (fetch_tasks refused anything else)
    if (facts.confirmed) {
      violation("lost enqueue: EnqueueOk was received, the broker says NOT_FOUND");
    } else {
      ++figures.unconfirmed_missing;  // delivered before its enqueue was durable, then lost in a crash: allowed
    }
    return;
  }
  const brokerd::TaskInfo& info = answer.value();
  if (!brokerd::is_terminal(info.state)) {
    violation(std::string("not terminal: ") + brokerd::task_state_name(info.state) + " after the drain");
    return;
  }
  if (facts.poison) {
    check_poison_task(info, violation, figures);
    return;
  }
  if (info.state != brokerd::TaskState::kSuccess) {
    violation(std::string("wrong end state: ") + end_state(info));
    return;
  }
  ++figures.succeeded;
  const nlohmann::json stored = info.result();
  if (!facts.durable.empty()) {
    for (const nlohmann::json& seen : facts.durable) {
      if (seen != facts.durable.front()) violation("two durable results: " + facts.durable.front().dump() + " and " + seen.dump());
    }
    if (stored != facts.durable.front()) {
      violation("lost completion: seen durable " + facts.durable.front().dump() + ", stored now " + stored.dump());
    }
  }
  if (!contains(facts.returned, stored)) violation("foreign result: stored " + stored.dump() + " was returned by no run");
  if (facts.first_durable_ms) {
    for (int64_t run : facts.run_times) {
      if (run > *facts.first_durable_ms) {
        violation("redelivered: a run started " + std::to_string(run - *facts.first_durable_ms) +
                  " ms after its success was seen durable");
      }
    }
  }
}

}  // namespace

bool check_run(const std::string& journal_dir, const std::string& server, double poison_fraction,
               CheckFigures& figures, std::string& error) {
  std::unordered_map<std::string, TaskFacts> tasks;
  for (const fs::directory_entry& entry : fs::directory_iterator(journal_dir)) {
    const std::string name = entry.path().filename().string();
    const JournalContents journal = read_journal(entry.path().string());
    figures.torn_journal_lines += journal.torn_lines;
    ++figures.journals;
    if (name.rfind("producer-", 0) == 0) read_producer_journal(journal, tasks, figures);
    if (name.rfind("worker-", 0) == 0) {
      read_worker_journal(journal, tasks, figures);
      // One journal per worker process (fleet.h): the overlap check is per journal.
      RunOverlaps overlaps = find_run_overlaps(handler_runs(journal));
      figures.same_process_reruns += overlaps.same_process_reruns;
      for (std::string& overlap : overlaps.violations) figures.violations.push_back(overlap + " (" + name + ")");
    }
  }

  std::vector<std::string> ids;
  ids.reserve(tasks.size());
  for (auto& [id, facts] : tasks) {
    ids.push_back(id);
    facts.poison = is_poison(id, poison_fraction);
    if (facts.confirmed) ++figures.confirmed_enqueues;
    if (facts.poison) {
      // Delivered again after each crash by design: its runs are not duplicates.
      ++figures.poison_tasks;
      for (const auto& retries_and_runs : facts.runs_by_retries) figures.poison_deliveries += retries_and_runs.second;
      continue;
    }
    if (!facts.durable.empty()) ++figures.completions_confirmed;
    uint64_t extra = 0;
    for (const auto& [retries, runs] : facts.runs_by_retries) {
      extra += runs - 1;
      // A flaky task's first run (retries 0) fails on purpose; its rerun is planned.
      if (retries == 0 && facts.runs_by_retries.count(1) > 0) ++figures.planned_failures;
    }
    figures.duplicate_deliveries += extra;
    if (extra > 0) ++figures.tasks_with_duplicates;
  }
  std::sort(ids.begin(), ids.end());
  figures.tasks_checked = ids.size();

  std::vector<brokerd::Result<brokerd::TaskInfo>> answers;
  if (!fetch_tasks(server, ids, answers, error)) return false;
  for (size_t i = 0; i < ids.size(); ++i) check_task(ids[i], tasks[ids[i]], answers[i], figures);
  return true;
}

}  // namespace torture
