// brokerctl: the brokerd admin CLI. This file only declares the command line (the verbs
// and flags are a stable contract for scripts) and dispatches to the run_* functions.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include <brokerd/client.h>

#include "commands.h"
#include "exit_codes.h"

namespace {

constexpr const char* kExitStatusHelp =
    "Exit status:\n"
    "  every verb but result: 0 success; 1 error (bad command line, cannot connect,\n"
    "                         server error, refused); 2 NOT_FOUND (no task with that id,\n"
    "                         or a named id not in the dead-letter set)\n"
    "  result:                0 SUCCESS; 1 FAILURE or REVOKED; 2 NOT_FOUND, not finished\n"
    "                         (within --wait, or yet), or any other error\n"
    "Errors are one line on stderr: \"brokerctl: CODE: message\".";

void add_enqueue(CLI::App& app, brokerctl::EnqueueOptions& options) {
  auto* verb = app.add_subcommand(
      "enqueue", "Enqueue a task by name and print its id alone on stdout");
  verb->add_option("NAME", options.name, "Task name the workers registered, e.g. add")->required();
  verb->add_option("--args", options.args_json, "Positional arguments as a JSON array")
      ->type_name("JSON_ARRAY")
      ->capture_default_str();
  verb->add_option("--kwargs", options.kwargs_json, "Keyword arguments as a JSON object")
      ->type_name("JSON_OBJECT")
      ->capture_default_str();
  verb->add_option("--queue", options.queue, "Queue to put it on (default: \"default\")")
      ->type_name("Q");
  verb->add_option("--priority", options.priority, "0..9, 9 is delivered first")
      ->check(CLI::Range(0, 9))
      ->capture_default_str();
  // Upper bound only guards the seconds -> milliseconds conversion against overflow.
  verb->add_option("--countdown", options.countdown_seconds,
                   "Deliver no earlier than this many seconds from now (fractions allowed)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 1e9));
  verb->add_option("--max-retries", options.max_retries,
                   "Retries allowed after a failure, with exponential backoff (default 0)")
      ->type_name("N")
      ->check(CLI::Range(0, 1000));
  verb->add_option("--time-limit", options.time_limit_seconds,
                   "Hard run-time limit of one delivery: FAILURE TimeLimitExceeded past it (at most a week)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 604800.0));
  verb->add_option("--soft-time-limit", options.soft_time_limit_seconds,
                   "The handler is asked to stop after this long (not more than --time-limit)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 604800.0));
  verb->add_option("--max-deliveries", options.max_deliveries,
                   "Deliveries without an outcome (worker died or hung) before the task ends FAILURE "
                   "DeliveryLimitExceeded (default: the broker's max_deliveries, 20)")
      ->type_name("N")
      ->check(CLI::Range(1, 1000));
  verb->add_option("--id", options.id,
                   "Task id to use (idempotent: an existing id is left unchanged)");
}

void add_task(CLI::App& app, brokerctl::TaskOptions& options) {
  auto* verb = app.add_subcommand("task", "Show a task's stored record");
  verb->add_option("ID", options.id, "Task id")->required();
  verb->add_flag("--json", options.json, "Print the record as one JSON object");
}

CLI::App* add_result(CLI::App& app, brokerctl::ResultOptions& options) {
  auto* verb = app.add_subcommand(
      "result", "Show a task's outcome: the result on SUCCESS, the error on FAILURE");
  verb->add_option("ID", options.id, "Task id")->required();
  verb->add_option("--wait", options.wait_seconds,
                   "Wait up to this many seconds for the task to finish (the broker pushes "
                   "the result; no polling). Without it, read the current state only")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 3600.0));
  verb->add_flag("--json", options.json, "Print the whole record as one JSON object");
  verb->footer("Exit status: 0 SUCCESS; 1 FAILURE or REVOKED; 2 NOT_FOUND, not finished, or error.");
  return verb;
}

void add_queues(CLI::App& app, brokerctl::QueuesOptions& options) {
  auto* verb = app.add_subcommand("queues", "List queues with their depths, counters and rates");
  verb->add_flag("--json", options.json,
                 "Print {\"queues\":[{name, ready, scheduled, in_flight, retrying, consumers, "
                 "succeeded, failed, dead, revoked, enqueued_per_s, completed_per_s, failed_per_s}]}");
}

void add_stats(CLI::App& app, brokerctl::StatsOptions& options) {
  auto* verb = app.add_subcommand(
      "stats", "Show the broker: version, uptime, connections, storage and totals over every queue");
  verb->add_flag("--json", options.json, "Print the statistics as one JSON object");
}

void add_workers(CLI::App& app, brokerctl::WorkersOptions& options) {
  auto* verb = app.add_subcommand("workers", "List the connections consuming tasks");
  verb->add_flag("--json", options.json, "Print {\"workers\":[...]}");
}

void add_revoke(CLI::App& app, brokerctl::RevokeOptions& options) {
  auto* verb = app.add_subcommand(
      "revoke",
      "Cancel a task: a waiting one is never delivered; a running one's worker is told and its "
      "outcome refused. A finished task is left as it is");
  verb->add_option("ID", options.id, "Task id")->required();
  verb->add_flag("--json", options.json, "Print {\"id\", \"state\", \"was_started\"}");
}

void add_purge(CLI::App& app, brokerctl::PurgeOptions& options) {
  auto* verb = app.add_subcommand(
      "purge", "Revoke every ready (QUEUED) task of a queue; running, scheduled and retrying "
               "tasks are left alone");
  verb->add_option("QUEUE", options.queue, "Queue to empty")->required();
  verb->add_flag("--yes,-y", options.yes,
                 "Do not ask for confirmation (required when stdin is not a terminal)");
  verb->add_flag("--json", options.json, "Print {\"queue\", \"removed\", \"remaining\"}");
}

void add_dead_op(CLI::App& dead, const char* name, const char* description,
                 brokerctl::DeadOpOptions& options) {
  auto* verb = dead.add_subcommand(name, description);
  verb->add_option("ID", options.args,
                   "Task ids; with --all, at most one QUEUE (every queue when omitted)");
  verb->add_flag("--all", options.all, "Every dead task (of QUEUE, if given)");
  verb->add_flag("--json", options.json,
                 std::string("Print {\"") + (std::string(name) == "requeue" ? "requeued" : "deleted") +
                     "\": N, \"not_dead_ids\": [...]}");
  verb->footer(std::string("Usage forms: brokerctl dead ") + name + " ID... [--json]\n" +
               "             brokerctl dead " + name + " --all [QUEUE] [--json]");
}

void add_dead(CLI::App& app, brokerctl::DeadListOptions& list, brokerctl::DeadOpOptions& requeue,
              brokerctl::DeadOpOptions& remove) {
  auto* dead = app.add_subcommand(
      "dead", "The dead-letter set: tasks that failed for good (FAILURE), kept for an operator");
  dead->require_subcommand(1);
  dead->fallthrough();  // --server after `dead list` belongs to the top level
  auto* list_verb = dead->add_subcommand("list", "List dead tasks, oldest failure first");
  list_verb->add_option("QUEUE", list.queue, "Only this queue (default: every queue)");
  list_verb->add_option("--limit", list.limit, "At most this many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  list_verb->add_flag("--json", list.json, "Print {\"tasks\":[task, ...]} (as `task --json`)");
  add_dead_op(*dead, "requeue", "Put dead tasks back in their queues (QUEUED, retries reset)",
              requeue);
  add_dead_op(*dead, "delete", "Delete dead tasks; their ids become NOT_FOUND", remove);
}

void add_tasks(CLI::App& app, brokerctl::TasksOptions& options) {
  auto* verb = app.add_subcommand("tasks", "List a queue's tasks, newest first");
  verb->add_option("QUEUE", options.queue, "Queue to list")->required();
  verb->add_option("--state", options.state,
                   "Only tasks in this state: QUEUED, SCHEDULED, STARTED, RETRY, SUCCESS, "
                   "FAILURE or REVOKED (any case)")
      ->type_name("STATE");
  verb->add_option("--limit", options.limit, "At most this many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  verb->add_flag("--json", options.json,
                 "Print {\"queue\", \"tasks\":[task, ...], \"truncated\"} (tasks as `task --json`)");
}

void add_watch(CLI::App& app, brokerctl::WatchOptions& options) {
  auto* verb = app.add_subcommand(
      "watch", "Print task and worker events as they happen, one line each, until Ctrl-C");
  verb->add_option("--queue", options.queues, "Only task events of this queue (repeatable; "
                                              "worker events are always shown)")
      ->type_name("Q")
      ->allow_extra_args(false);  // one queue per --queue, so other flags may follow
  verb->add_option("--count", options.count, "Exit 0 after this many events")->type_name("N");
  verb->add_option("--timeout", options.timeout_seconds,
                   "Stop after this many seconds: exit 0, or 1 if --count events had not come")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 1e9));
  verb->add_flag("--json", options.json, "Print one JSON object per line");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"brokerctl: enqueue tasks and inspect a brokerd task broker", "brokerctl"};
  app.require_subcommand(1);
  app.fallthrough();  // so --server may also follow the verb
  app.footer(kExitStatusHelp);

  brokerctl::GlobalOptions global;
  global.server = brokerd::default_server_address();
  app.add_option("--server", global.server,
                 "Broker address (default: $BROKERD_SERVER, else 127.0.0.1:7411)")
      ->type_name("HOST:PORT")
      ->capture_default_str();
  app.add_option("--token-file", global.token_file,
                 "Read the auth token from the first line of FILE (default: $BROKERD_TOKEN_FILE, "
                 "else $BROKERD_TOKEN). Tokens are never taken on the command line.")
      ->type_name("FILE");
  app.add_flag("--tls", global.tls, "Connect with TLS, verifying the broker's certificate (default: $BROKERD_TLS)");
  app.add_option("--tls-ca", global.tls_ca,
                 "PEM CA bundle to verify the broker with; implies --tls (default: $BROKERD_TLS_CA, "
                 "else the system's CAs)")
      ->type_name("FILE");
  app.add_option("--tls-server-name", global.tls_server_name,
                 "Name the broker's certificate must carry (default: the host of --server)")
      ->type_name("NAME");
  app.add_option("--tls-cert", global.tls_cert,
                 "Client certificate for brokers that verify clients; implies --tls (default: $BROKERD_TLS_CERT)")
      ->type_name("FILE");
  app.add_option("--tls-key", global.tls_key, "Key of --tls-cert (default: $BROKERD_TLS_KEY)")->type_name("FILE");

  brokerctl::EnqueueOptions enqueue;
  brokerctl::TaskOptions task;
  brokerctl::ResultOptions result;
  brokerctl::QueuesOptions queues;
  brokerctl::StatsOptions stats;
  brokerctl::WorkersOptions workers;
  brokerctl::RevokeOptions revoke;
  brokerctl::PurgeOptions purge;
  brokerctl::DeadListOptions dead_list;
  brokerctl::DeadOpOptions dead_requeue;
  brokerctl::DeadOpOptions dead_delete;
  brokerctl::TasksOptions tasks;
  brokerctl::WatchOptions watch;
  add_enqueue(app, enqueue);
  add_task(app, task);
  CLI::App* result_verb = add_result(app, result);
  add_queues(app, queues);
  add_stats(app, stats);
  add_workers(app, workers);
  add_revoke(app, revoke);
  add_purge(app, purge);
  add_dead(app, dead_list, dead_requeue, dead_delete);
  add_tasks(app, tasks);
  add_watch(app, watch);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help
    std::cerr << "brokerctl: " << error.what() << " (see brokerctl --help)\n";
    // A bad `result` command line must not read as "the task failed" (1).
    return result_verb->parsed() ? brokerctl::kExitResultNone : brokerctl::kExitError;
  }

  const CLI::App* chosen = app.get_subcommands().front();
  const std::string verb = chosen->get_name();
  if (verb == "enqueue") return brokerctl::run_enqueue(global, enqueue);
  if (verb == "task") return brokerctl::run_task(global, task);
  if (verb == "result") return brokerctl::run_result(global, result);
  if (verb == "queues") return brokerctl::run_queues(global, queues);
  if (verb == "stats") return brokerctl::run_stats(global, stats);
  if (verb == "workers") return brokerctl::run_workers(global, workers);
  if (verb == "revoke") return brokerctl::run_revoke(global, revoke);
  if (verb == "purge") return brokerctl::run_purge(global, purge);
  if (verb == "tasks") return brokerctl::run_tasks(global, tasks);
  if (verb == "watch") return brokerctl::run_watch(global, watch);
  // dead: require_subcommand(1) guarantees one of its verbs.
  const std::string dead_verb = chosen->get_subcommands().front()->get_name();
  if (dead_verb == "list") return brokerctl::run_dead_list(global, dead_list);
  if (dead_verb == "requeue") return brokerctl::run_dead_requeue(global, dead_requeue);
  return brokerctl::run_dead_delete(global, dead_delete);
}
