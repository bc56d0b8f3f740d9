#include "common/uuid.h"

#include <gtest/gtest.h>

#include <set>

namespace brokerd::server {
namespace {

TEST(UuidV7Test, CanonicalFormWithVersionAndVariant) {
  const std::string id = make_uuid_v7(1'700'000'000'000);
  ASSERT_EQ(id.size(), 36u);
  for (int dash : {8, 13, 18, 23}) EXPECT_EQ(id[dash], '-') << id;
  EXPECT_EQ(id[14], '7') << id;                                // version
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC variant
  // The first 48 bits are the millisecond timestamp.
  EXPECT_EQ(std::stoull(id.substr(0, 8) + id.substr(9, 4), nullptr, 16), 1'700'000'000'000ULL);
}

TEST(UuidV7Test, IdsFromOneThreadSortByCreationEvenWithinAMillisecond) {
  std::string previous = make_uuid_v7(1'700'000'000'000);
  std::set<std::string> seen{previous};
  // More than the 12-bit counter holds, in the same millisecond, then a clock step back.
  for (int i = 0; i < 10'000; ++i) {
    const std::string next = make_uuid_v7(i < 9'000 ? 1'700'000'000'000 : 1'699'999'999'000);
    EXPECT_LT(previous, next);
    previous = next;
    seen.insert(next);
  }
  EXPECT_EQ(seen.size(), 10'001u);
  const std::string later = make_uuid_v7(1'800'000'000'000);
  EXPECT_LT(previous, later);
  EXPECT_EQ(later.substr(14, 4), "7000");  // a new millisecond restarts the counter
}

}  // namespace
}  // namespace brokerd::server
