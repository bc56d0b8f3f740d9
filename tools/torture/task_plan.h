// broker-torture: what each task looks like, decided from its sequence number alone, so
// the producer that enqueues it, the worker that runs it and the checker agree without
// talking to each other.
//
// Most tasks are plain. Some take detours that keep state in the broker across a crash:
// a "flaky" task fails its first run (it has retries, so it goes to RETRY with a short
// backoff and must still end SUCCESS), a "delayed" task is SCHEDULED with a countdown,
// a "slow" task's handler works for kSlowWorkMs and does not look at stop_requested(),
// so a brokerd kill often finds it running: its worker reconnects and may get the task
// again while the old run still works (the Worker must not start the second run until
// the first returned). Every task is expected to end SUCCESS.
#pragma once

#include <cstdint>
#include <string>

#include <brokerd/task.h>

namespace torture {

inline constexpr const char* kTaskName = "torture.work";
// How long a slow task's handler works.
inline constexpr unsigned kSlowWorkMs = 800;

// "<run>-p<producer>-<seq>": unique per run, valid as a client-chosen task id.
std::string task_id(const std::string& run_tag, unsigned producer, uint64_t seq);

// The request for task `seq`, with the client-chosen id that makes a resend idempotent.
brokerd::TaskRequest task_request(const std::string& id, uint64_t seq);

// What the handler must do with a task, read from its args (the handler does not know
// the sequence number otherwise).
bool fails_first_run(const nlohmann::json& args);  // throw on the run with retries 0
bool is_slow(const nlohmann::json& args);           // work kSlowWorkMs

}  // namespace torture
