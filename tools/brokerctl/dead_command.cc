// brokerctl dead list | requeue | delete: the dead-letter set, FAILURE tasks the broker
// keeps for an operator to look at, run again or throw away.
//
// `requeue --all` and `delete --all` are loops of bounded calls. A requeued task that
// fails again re-enters the dead set, so a requeue loop that ran "until the set is
// empty" might never end; both loops stop once they have handled as many tasks as the
// set held when they started.
#include <iostream>

#include "admin_format.h"
#include "bulk.h"
#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "task_format.h"
#include "terminal.h"

namespace brokerctl {
namespace {

enum class DeadOp { kRequeue, kDelete };

const char* past_tense(DeadOp op) { return op == DeadOp::kRequeue ? "requeued" : "deleted"; }

// Dead tasks in `queue` (every queue when empty) according to the queue counters.
uint64_t dead_count(brokerd::Client& client, const std::string& queue) {
  auto stats = queue.empty() ? client.queue_stats() : client.queue_stats({queue});
  if (!stats.ok()) return 0;
  uint64_t dead = 0;
  for (const auto& info : *stats) {
    if (queue.empty() || info.name == queue) dead += info.dead;
  }
  return dead;
}

brokerd::Result<brokerd::DeadOpOutcome> call(brokerd::Client& client, DeadOp op,
                                             const std::vector<std::string>& ids) {
  return op == DeadOp::kRequeue ? client.dead_requeue(ids) : client.dead_delete(ids);
}

brokerd::Result<brokerd::DeadOpOutcome> call_all(brokerd::Client& client, DeadOp op,
                                                 const std::string& queue) {
  return op == DeadOp::kRequeue ? client.dead_requeue_all(queue, kBulkBatch)
                                : client.dead_delete_all(queue, kBulkBatch);
}

int print_summary(DeadOp op, uint64_t count, const std::vector<std::string>& not_dead, bool json) {
  for (const std::string& id : not_dead) {
    report_error("NOT_FOUND: task " + id + " is not in the dead-letter set");
  }
  if (json) {
    print_json(std::cout, {{past_tense(op), count}, {"not_dead_ids", not_dead}});
  } else {
    std::cout << past_tense(op) << ' ' << count << (count == 1 ? " task\n" : " tasks\n");
  }
  return not_dead.empty() ? kExitOk : kExitNotFound;
}

int run_dead_op(const GlobalOptions& global, const DeadOpOptions& options, DeadOp op) {
  if (options.all && options.args.size() > 1) {
    report_error("--all takes at most one QUEUE, not task ids");
    return kExitError;
  }
  if (!options.all && options.args.empty()) {
    report_error("name the task ids, or use --all [QUEUE]");
    return kExitError;
  }
  auto client = connect_or_report(global);
  if (!client) return kExitError;

  if (!options.all) {
    auto outcome = call(*client, op, options.args);
    if (!outcome.ok()) {
      report_error(outcome.status());
      return exit_code_for(outcome.status());
    }
    return print_summary(op, outcome->count, outcome->not_dead_ids, options.json);
  }

  const std::string queue = options.args.empty() ? "" : options.args.front();
  const uint64_t target = dead_count(*client, queue);
  uint64_t done = 0;
  {
    Progress progress(past_tense(op));
    for (;;) {
      auto step = call_all(*client, op, queue);
      if (!step.ok()) {
        progress.end();
        report_error(step.status());
        if (done > 0) report_error(std::string(past_tense(op)) + " " + std::to_string(done) + " tasks before the error");
        return exit_code_for(step.status());
      }
      done += step->count;
      progress.update(done, target);
      if (step->count == 0 || done >= target) break;
    }
  }
  return print_summary(op, done, {}, options.json);
}

}  // namespace

int run_dead_list(const GlobalOptions& global, const DeadListOptions& options) {
  auto client = connect_or_report(global);
  if (!client) return kExitError;
  auto tasks = client->dead_list(options.queue, options.limit);
  if (!tasks.ok()) {
    report_error(tasks.status());
    return exit_code_for(tasks.status());
  }
  if (options.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& task : *tasks) list.push_back(task_to_json(task));
    print_json(std::cout, {{"tasks", list}});
  } else {
    print_dead_table(std::cout, *tasks);
  }
  return kExitOk;
}

int run_dead_requeue(const GlobalOptions& global, const DeadOpOptions& options) {
  return run_dead_op(global, options, DeadOp::kRequeue);
}

int run_dead_delete(const GlobalOptions& global, const DeadOpOptions& options) {
  return run_dead_op(global, options, DeadOp::kDelete);
}

}  // namespace brokerctl
