// The in-memory head of one queue's ready index.
//
// A queue of ten million tasks lives on disk; memory holds only the smallest keys of its
// ready index (highest priority, then oldest), at most `capacity` of them. The invariant:
// the window holds exactly the index keys below `boundary` (every key when complete()).
// Keys at or above the boundary may exist on disk only. Refills read from the boundary
// upward, so the tombstones that pops leave below it are never iterated again.
//
// Not thread-safe: owned by the engine, used under its lock.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace brokerd::server {

class ReadyWindow {
 public:
  struct Entry {
    std::string key;
    std::string task_id;
  };

  // `lowest_key` is the smallest key the queue's index can hold (its prefix).
  ReadyWindow(size_t capacity, std::string lowest_key);

  // A key was added to the index (and will be on disk once the current batch is written).
  void on_insert(const std::string& key, const std::string& task_id);
  // A key was removed from the index other than by pop_front().
  void on_erase(const std::string& key);

  // True when the window is empty but the disk may hold more keys.
  bool needs_refill() const { return window_.empty() && !complete_; }
  // Where a refill must start reading (inclusive).
  const std::string& refill_from() const { return boundary_; }
  // Adds keys read from disk starting at refill_from(), in order. `reached_end` says the
  // read found no more keys (fewer than asked for).
  void refill(std::vector<Entry> entries, bool reached_end);

  // The smallest key in the window, removed. Empty when the window is empty (refill
  // first when needs_refill()).
  std::optional<Entry> pop_front();

  size_t size() const { return window_.size(); }
  size_t capacity() const { return capacity_; }
  bool complete() const { return complete_; }

 private:
  size_t capacity_;
  std::map<std::string, std::string> window_;  // ready key -> task id
  std::string boundary_;
  bool complete_ = false;  // nothing on disk beyond the window
};

}  // namespace brokerd::server
