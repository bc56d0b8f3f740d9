// broker-torture, worker role: runs tasks with the client library's Worker (reconnects,
// heartbeats and all, as an application would) and journals each run:
//
//   D <ms> <id> <attempt> <retries> <run>   a handler started on a delivery
//   R <ms> <id> <result>              the handler returned this result (before it is sent)
//   F <ms> <id> <run> <seq>           that handler run ended (returned or threw)
//   C / O / X / N ...                 what the broker later said (confirmer.h)
//
// <run> and <seq> come from one counter per process, taken as a run starts and as it
// ends, so the checker can tell whether two runs of one task in this process overlapped
// (a run without an F line never ended: the process was killed while it ran).
// A result holds the worker's pid, the attempt and a random nonce, so every run's result
// differs and the checker can tell which run's result the broker kept.
//
// A poison task (task_plan.h) makes the process exit with kPoisonExitCode right after its
// D line, with std::_Exit: no destructor, no graceful anything, like a crash in a handler.
//
// SIGTERM stops it gracefully (running handlers finish and report; the confirmer gets a
// few seconds to confirm them). SIGKILL is what the controller uses to test crashes.
#pragma once

#include "options.h"

namespace torture {

int run_worker(const ChildOptions& options);

}  // namespace torture
