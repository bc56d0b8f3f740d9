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
    "  enqueue, task, queues: 0 success; 1 error (bad command line, cannot connect,\n"
    "                         server error); 2 NOT_FOUND (no task with that id)\n"
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
  auto* verb = app.add_subcommand("queues", "List queues with their depths and counters");
  verb->add_flag("--json", options.json,
                 "Print {\"queues\":[{name, ready, scheduled, in_flight, retrying, consumers, "
                 "succeeded, failed}]}");
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

  brokerctl::EnqueueOptions enqueue;
  brokerctl::TaskOptions task;
  brokerctl::ResultOptions result;
  brokerctl::QueuesOptions queues;
  add_enqueue(app, enqueue);
  add_task(app, task);
  CLI::App* result_verb = add_result(app, result);
  add_queues(app, queues);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help
    std::cerr << "brokerctl: " << error.what() << " (see brokerctl --help)\n";
    // A bad `result` command line must not read as "the task failed" (1).
    return result_verb->parsed() ? brokerctl::kExitResultNone : brokerctl::kExitError;
  }

  const std::string verb = app.get_subcommands().front()->get_name();
  if (verb == "enqueue") return brokerctl::run_enqueue(global, enqueue);
  if (verb == "task") return brokerctl::run_task(global, task);
  if (verb == "result") return brokerctl::run_result(global, result);
  return brokerctl::run_queues(global, queues);
}
