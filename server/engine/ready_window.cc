#include "engine/ready_window.h"

#include "storage/key_layout.h"

namespace brokerd::server {

ReadyWindow::ReadyWindow(size_t capacity, std::string lowest_key)
    : capacity_(capacity == 0 ? 1 : capacity), boundary_(std::move(lowest_key)) {}

void ReadyWindow::on_insert(const std::string& key, const std::string& task_id) {
  if (!complete_ && key >= boundary_) return;  // stays on disk until a refill reaches it
  window_.emplace(key, task_id);
  if (window_.size() > capacity_) {
    // Spill the largest key back to disk-only: it becomes the new boundary.
    auto last = std::prev(window_.end());
    boundary_ = last->first;
    complete_ = false;
    window_.erase(last);
  }
}

void ReadyWindow::on_erase(const std::string& key) { window_.erase(key); }

void ReadyWindow::refill(std::vector<Entry> entries, bool reached_end) {
  for (auto& entry : entries) {
    boundary_ = keys::successor(entry.key);
    window_.emplace(std::move(entry.key), std::move(entry.task_id));
  }
  complete_ = reached_end;
}

std::optional<ReadyWindow::Entry> ReadyWindow::pop_front() {
  if (window_.empty()) return std::nullopt;
  auto first = window_.begin();
  Entry entry{first->first, std::move(first->second)};
  window_.erase(first);
  return entry;
}

}  // namespace brokerd::server
