// broker-torture: what each task looks like, decided from its id and sequence number
// alone, so the producer that enqueues it, the worker that runs it and the checker agree
// without talking to each other.
//
// Most tasks are plain. Some take detours that keep state in the broker across a crash:
// a "flaky" task fails its first run (it has retries, so it goes to RETRY with a short
// backoff and must still end SUCCESS), a "delayed" task is SCHEDULED with a countdown,
// a "slow" task's handler works for kSlowWorkMs and does not look at stop_requested(),
// so a brokerd kill often finds it running: its worker reconnects and may get the task
// again while the old run still works (the Worker must not start the second run until
// the first returned). All of these must end SUCCESS.
//
// A "poison" task (a --poison-fraction of them, picked by a hash of the task id, so each
// run and each producer has a different set) makes the worker process that runs it exit
// at once, on every delivery. It is enqueued with max_deliveries kPoisonMaxDeliveries
// and must end FAILURE "DeliveryLimitExceeded".
#pragma once

#include <cstdint>
#include <string>

#include <brokerd/task.h>

namespace torture {

inline constexpr const char* kTaskName = "torture.work";
// The task's TaskOptions::max_deliveries: deliveries lost without an outcome before the
// broker gives up on it.
inline constexpr uint32_t kPoisonMaxDeliveries = 3;
// The exit status of a worker process that a poison task took down: the controller
// replaces it and counts it, but does not call it a finding.
inline constexpr int kPoisonExitCode = 86;
// How long a slow task's handler works.
inline constexpr unsigned kSlowWorkMs = 800;

// "<run>-p<producer>-<seq>": unique per run, valid as a client-chosen task id.
std::string task_id(const std::string& run_tag, unsigned producer, uint64_t seq);

// Whether task `id` is poison when a `poison_fraction` (0..1) of the tasks are.
bool is_poison(const std::string& id, double poison_fraction);

// The request for task `seq`, with the client-chosen id that makes a resend idempotent.
brokerd::TaskRequest task_request(const std::string& id, uint64_t seq, double poison_fraction);

// What the handler must do with a task, read from its args (the handler does not know
// the sequence number or the poison fraction otherwise).
bool fails_first_run(const nlohmann::json& args);  // throw on the run with retries 0
bool is_poison(const nlohmann::json& args);         // exit the process at once
bool is_slow(const nlohmann::json& args);           // work kSlowWorkMs

}  // namespace torture
