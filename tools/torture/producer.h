// broker-torture, producer role: enqueues --count tasks at --child-rate per second and
// journals each one only once the broker has confirmed it ("E <ms> <id> <created>").
//
// The client library's Client does not reconnect, so this does what an application
// must: when a call fails because the broker went away, it connects again (with
// backoff) and resends the SAME task id. A resend after a lost EnqueueOk is answered
// created=false and changes nothing, which is what makes the retry safe.
//
// SIGTERM stops it between two tasks (the one in progress is still confirmed first).
#pragma once

#include "options.h"

namespace torture {

int run_producer(const ChildOptions& options);

}  // namespace torture
