#include "storage/key_layout.h"

#include <gtest/gtest.h>

namespace brokerd::server {
namespace {

TEST(KeyLayout, Be64RoundTripsAndSortsNumerically) {
  for (uint64_t value : {0ull, 1ull, 255ull, 256ull, 1ull << 40, ~0ull}) {
    EXPECT_EQ(keys::decode_be64(keys::encode_be64(value)), value);
  }
  EXPECT_LT(keys::encode_be64(255), keys::encode_be64(256));
}

TEST(KeyLayout, ReadyKeysSortByPriorityThenArrival) {
  const std::string urgent_late = keys::ready_key("q", 9, 100);
  const std::string urgent_early = keys::ready_key("q", 9, 5);
  const std::string normal_early = keys::ready_key("q", 0, 1);
  EXPECT_LT(urgent_early, urgent_late);
  EXPECT_LT(urgent_late, normal_early);
}

TEST(KeyLayout, ReadyKeysStayInsideTheirQueueRange) {
  for (const char* queue : {"a", "ab", "a.b"}) {
    const std::string key = keys::ready_key(queue, 3, 42);
    EXPECT_GE(key, keys::ready_prefix(queue));
    EXPECT_LT(key, keys::ready_end(queue));
  }
  // A queue whose name extends another's does not fall into the shorter one's range.
  EXPECT_GE(keys::ready_key("ab", 9, 0), keys::ready_end("a"));
}

TEST(KeyLayout, DelayedKeysSortByDueTime) {
  EXPECT_LT(keys::delayed_key(1000, 99), keys::delayed_key(1001, 1));
  EXPECT_EQ(keys::delayed_key_due(keys::delayed_key(123456, 7)), 123456);
  EXPECT_EQ(keys::delayed_key_due(keys::delayed_key(-5, 7)), 0);  // clamped, order kept
}

TEST(KeyLayout, ExpiryKeyCarriesTimeAndTask) {
  const std::string key = keys::expiry_key(5000, "task-1");
  EXPECT_EQ(keys::expiry_key_time(key), 5000);
  EXPECT_EQ(keys::expiry_key_task(key), "task-1");
  EXPECT_LT(keys::expiry_key(4999, "zzz"), key);
}

TEST(KeyLayout, SuccessorIsTheNextKey) {
  EXPECT_GT(keys::successor("abc"), "abc");
  EXPECT_LT(keys::successor("abc"), "abc\x01");
}

TEST(KeyLayout, FamilyNamesAreDistinct) {
  std::set<std::string> names;
  for (int i = 0; i < kFamilyCount; ++i) names.insert(family_name(static_cast<Family>(i)));
  EXPECT_EQ(names.size(), static_cast<size_t>(kFamilyCount));
}

}  // namespace
}  // namespace brokerd::server
