#include "engine/ready_window.h"

#include <gtest/gtest.h>

#include <set>

#include "storage/key_layout.h"

namespace brokerd::server {
namespace {

// A model of the disk: the set of index keys that exist.
struct Index {
  std::set<std::string> keys;
  std::vector<ReadyWindow::Entry> read_from(const std::string& from, size_t limit) const {
    std::vector<ReadyWindow::Entry> out;
    for (auto it = keys.lower_bound(from); it != keys.end() && out.size() < limit; ++it) out.push_back({*it, *it});
    return out;
  }
};

std::string pop(ReadyWindow& window, Index& index) {
  if (window.needs_refill()) {
    auto entries = index.read_from(window.refill_from(), window.capacity());
    const bool end = entries.size() < window.capacity();
    window.refill(std::move(entries), end);
  }
  auto entry = window.pop_front();
  if (!entry) return "";
  index.keys.erase(entry->key);
  return entry->key;
}

TEST(ReadyWindow, PopsInKeyOrderAcrossRefills) {
  Index index;
  ReadyWindow window(4, keys::ready_prefix("q"));
  std::vector<std::string> inserted;
  for (uint64_t seq = 1; seq <= 50; ++seq) {
    const std::string key = keys::ready_key("q", seq % 3 == 0 ? 5 : 0, seq);
    index.keys.insert(key);
    window.on_insert(key, key);
    inserted.push_back(key);
  }
  std::sort(inserted.begin(), inserted.end());
  std::vector<std::string> popped;
  for (std::string key = pop(window, index); !key.empty(); key = pop(window, index)) popped.push_back(key);
  EXPECT_EQ(popped, inserted);
  EXPECT_LE(window.size(), window.capacity());
}

TEST(ReadyWindow, UrgentInsertAfterSpillIsServedFirst) {
  Index index;
  ReadyWindow window(2, keys::ready_prefix("q"));
  window.refill({}, /*reached_end=*/true);  // a queue found empty on disk
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    const std::string key = keys::ready_key("q", 0, seq);
    index.keys.insert(key);
    window.on_insert(key, key);
  }
  EXPECT_EQ(window.size(), 2u);  // the rest lives on "disk" only
  const std::string urgent = keys::ready_key("q", 9, 11);
  index.keys.insert(urgent);
  window.on_insert(urgent, urgent);
  EXPECT_EQ(pop(window, index), urgent);
  EXPECT_EQ(pop(window, index), keys::ready_key("q", 0, 1));
}

TEST(ReadyWindow, LateInsertBehindBoundaryIsFoundByRefill) {
  Index index;
  ReadyWindow window(2, keys::ready_prefix("q"));
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    const std::string key = keys::ready_key("q", 0, seq);
    index.keys.insert(key);
    window.on_insert(key, key);
  }
  const std::string late = keys::ready_key("q", 0, 4);
  index.keys.insert(late);
  window.on_insert(late, late);
  std::vector<std::string> popped;
  for (std::string key = pop(window, index); !key.empty(); key = pop(window, index)) popped.push_back(key);
  ASSERT_EQ(popped.size(), 4u);
  EXPECT_EQ(popped.back(), late);
}

TEST(ReadyWindow, StartsIncompleteSoTheFirstPopReadsDisk) {
  ReadyWindow window(8, keys::ready_prefix("q"));
  EXPECT_TRUE(window.needs_refill());
  window.refill({}, /*reached_end=*/true);
  EXPECT_FALSE(window.needs_refill());
  EXPECT_FALSE(window.pop_front().has_value());
}

TEST(ReadyWindow, ErasedKeyIsNotPopped) {
  Index index;
  ReadyWindow window(8, keys::ready_prefix("q"));
  window.refill({}, true);
  const std::string a = keys::ready_key("q", 0, 1), b = keys::ready_key("q", 0, 2);
  window.on_insert(a, a);
  window.on_insert(b, b);
  window.on_erase(a);
  EXPECT_EQ(window.pop_front()->key, b);
}

}  // namespace
}  // namespace brokerd::server
