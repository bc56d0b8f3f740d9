// broker-torture, worker role: runs tasks with the client library's Worker (reconnects,
// heartbeats and all, as an application would) and journals each run:
//
//   D <ms> <id> <attempt> <retries>   a handler started on a delivery
//   R <ms> <id> <result>              the handler returned this result (before it is sent)
//   C / O / X / N ...                 what the broker later said (confirmer.h)
//
// A result holds the worker's pid, the attempt and a random nonce, so every run's result
// differs and the checker can tell which run's result the broker kept.
//
// SIGTERM stops it gracefully (running handlers finish and report; the confirmer gets a
// few seconds to confirm them). SIGKILL is what the controller uses to test crashes.
#pragma once

#include "options.h"

namespace torture {

int run_worker(const ChildOptions& options);

}  // namespace torture
