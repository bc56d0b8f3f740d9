#include "queue_format.h"

#include <cstdio>
#include <string>

#include "table.h"

namespace brokerctl {

std::string format_rate(double per_second) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", per_second);
  return text;
}

nlohmann::ordered_json queue_counts_to_json(const brokerd::QueueInfo& queue) {
  // The first eight fields are the original `queues --json` shape; later ones were added
  // after it, never in between.
  return {{"ready", queue.ready},
          {"scheduled", queue.scheduled},
          {"in_flight", queue.in_flight},
          {"retrying", queue.retrying},
          {"consumers", queue.consumers},
          {"succeeded", queue.succeeded},
          {"failed", queue.failed},
          {"dead", queue.dead},
          {"revoked", queue.revoked},
          {"enqueued_per_s", queue.enqueued_per_s},
          {"completed_per_s", queue.completed_per_s},
          {"failed_per_s", queue.failed_per_s}};
}

nlohmann::ordered_json queues_to_json(const std::vector<brokerd::QueueInfo>& queues) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& queue : queues) {
    nlohmann::ordered_json entry = {{"name", queue.name}};
    entry.update(queue_counts_to_json(queue));
    list.push_back(std::move(entry));
  }
  return {{"queues", list}};
}

void print_queue_table(std::ostream& out, const std::vector<brokerd::QueueInfo>& queues) {
  std::vector<TableRow> rows;
  rows.reserve(queues.size());
  for (const auto& queue : queues) {
    rows.push_back({queue.name, std::to_string(queue.ready), std::to_string(queue.scheduled),
                    std::to_string(queue.in_flight), std::to_string(queue.retrying),
                    std::to_string(queue.dead), std::to_string(queue.consumers),
                    std::to_string(queue.succeeded), std::to_string(queue.failed),
                    format_rate(queue.enqueued_per_s), format_rate(queue.completed_per_s),
                    format_rate(queue.failed_per_s)});
  }
  print_table(out,
              {"QUEUE", "READY", "SCHEDULED", "IN_FLIGHT", "RETRYING", "DEAD", "CONSUMERS",
               "SUCCEEDED", "FAILED", "ENQUEUED/S", "COMPLETED/S", "FAILED/S"},
              rows);
}

}  // namespace brokerctl
