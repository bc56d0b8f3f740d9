// How brokerctl shows queue statistics: {"queues":[...]} for scripts, a table for people.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <brokerd/task.h>

namespace brokerctl {

// One queue's numbers: {"ready","scheduled","in_flight","retrying","consumers",
// "succeeded","failed","dead","revoked","enqueued_per_s","completed_per_s","failed_per_s"}.
// Shared by `queues` (after "name") and the totals of `stats`.
nlohmann::ordered_json queue_counts_to_json(const brokerd::QueueInfo& queue);

// {"queues":[{"name", ...queue_counts_to_json...}]} in the order given.
nlohmann::ordered_json queues_to_json(const std::vector<brokerd::QueueInfo>& queues);

// Columns QUEUE READY SCHEDULED IN_FLIGHT RETRYING DEAD CONSUMERS SUCCEEDED FAILED
// ENQUEUED/S COMPLETED/S FAILED/S, one row per queue; the header is printed even when
// there are no queues.
void print_queue_table(std::ostream& out, const std::vector<brokerd::QueueInfo>& queues);

// A rate per second with one decimal: "0.0", "12.5".
std::string format_rate(double per_second);

}  // namespace brokerctl
