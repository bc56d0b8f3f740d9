// How brokerctl shows queue statistics: {"queues":[...]} for scripts, a table for people.
#pragma once

#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include <brokerd/task.h>

namespace brokerctl {

// {"queues":[{"name","ready","scheduled","in_flight","retrying","consumers","succeeded",
// "failed"}]} in the order given.
nlohmann::ordered_json queues_to_json(const std::vector<brokerd::QueueInfo>& queues);

// Columns QUEUE READY SCHEDULED IN_FLIGHT RETRYING CONSUMERS SUCCEEDED FAILED, one row per
// queue; the header is printed even when there are no queues.
void print_queue_table(std::ostream& out, const std::vector<brokerd::QueueInfo>& queues);

}  // namespace brokerctl
