#include "queue_format.h"

#include <algorithm>
#include <array>
#include <string>

namespace brokerctl {
namespace {

constexpr size_t kColumns = 8;
using Row = std::array<std::string, kColumns>;

Row to_row(const brokerd::QueueInfo& queue) {
  return {queue.name,
          std::to_string(queue.ready),
          std::to_string(queue.scheduled),
          std::to_string(queue.in_flight),
          std::to_string(queue.retrying),
          std::to_string(queue.consumers),
          std::to_string(queue.succeeded),
          std::to_string(queue.failed)};
}

}  // namespace

nlohmann::ordered_json queues_to_json(const std::vector<brokerd::QueueInfo>& queues) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& queue : queues) {
    list.push_back({{"name", queue.name},
                    {"ready", queue.ready},
                    {"scheduled", queue.scheduled},
                    {"in_flight", queue.in_flight},
                    {"retrying", queue.retrying},
                    {"consumers", queue.consumers},
                    {"succeeded", queue.succeeded},
                    {"failed", queue.failed}});
  }
  return {{"queues", list}};
}

void print_queue_table(std::ostream& out, const std::vector<brokerd::QueueInfo>& queues) {
  std::vector<Row> rows;
  rows.push_back(
      {"QUEUE", "READY", "SCHEDULED", "IN_FLIGHT", "RETRYING", "CONSUMERS", "SUCCEEDED", "FAILED"});
  for (const auto& queue : queues) rows.push_back(to_row(queue));

  std::array<size_t, kColumns> widths{};
  for (const auto& row : rows) {
    for (size_t column = 0; column < kColumns; ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  // Queue names left-aligned, counts right-aligned so digits line up.
  for (const auto& row : rows) {
    std::string line;
    for (size_t column = 0; column < kColumns; ++column) {
      const std::string& cell = row[column];
      std::string padding(widths[column] - cell.size(), ' ');
      if (column == 0) {
        line += cell + padding;
      } else {
        line += "  " + padding + cell;
      }
    }
    out << line << '\n';
  }
}

}  // namespace brokerctl
