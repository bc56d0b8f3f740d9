// broker-torture: what each task looks like, decided from its sequence number alone, so
// the producer that enqueues it, the worker that runs it and the checker agree without
// talking to each other.
//
// Most tasks are plain. Some take detours that keep state in the broker across a crash:
// a "flaky" task fails its first run (it has retries, so it goes to RETRY with a short
// backoff and must still end SUCCESS), a "delayed" task is SCHEDULED with a countdown.
// Every task is expected to end SUCCESS.
#pragma once

#include <cstdint>
#include <string>

#include <brokerd/task.h>

namespace torture {

inline constexpr const char* kTaskName = "torture.work";

// "<run>-p<producer>-<seq>": unique per run, valid as a client-chosen task id.
std::string task_id(const std::string& run_tag, unsigned producer, uint64_t seq);

// The request for task `seq`, with the client-chosen id that makes a resend idempotent.
brokerd::TaskRequest task_request(const std::string& id, uint64_t seq);

// Whether the handler must fail this task's first run (see above). Read from the args,
// since the handler does not know the sequence number otherwise.
bool fails_first_run(const nlohmann::json& args);

}  // namespace torture
