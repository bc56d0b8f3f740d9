// RocksStorage range scans: bounds are honoured in both directions.
#include "storage/rocks_storage.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace brokerd::server {
namespace {

class RocksStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RocksStorageOptions options;
    options.path = dir_.file("db");
    auto opened = RocksStorage::open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    storage_ = std::move(opened.value());
    auto batch = storage_->new_write_set();
    for (const char* key : {"a", "b", "c", "d"}) batch->put(Family::kTasks, key, key);
    batch->erase(Family::kTasks, "c");
    ASSERT_TRUE(storage_->write(*batch).ok());
  }

  std::vector<std::string> keys(std::string_view lower, std::string_view upper, bool reverse, size_t stop_after = 99) {
    std::vector<std::string> out;
    auto visit = [&](std::string_view key, std::string_view) {
      out.emplace_back(key);
      return out.size() < stop_after;
    };
    Status s = reverse ? storage_->scan_reverse(Family::kTasks, lower, upper, visit)
                       : storage_->scan(Family::kTasks, lower, upper, visit);
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<RocksStorage> storage_;
};

using Keys = std::vector<std::string>;

TEST_F(RocksStorageTest, ScansHonourBoundsInBothDirections) {
  EXPECT_EQ(keys("", "", false), (Keys{"a", "b", "d"}));
  EXPECT_EQ(keys("", "", true), (Keys{"d", "b", "a"}));
  EXPECT_EQ(keys("b", "d", false), (Keys{"b"}));
  EXPECT_EQ(keys("b", "d", true), (Keys{"b"}));  // the upper bound is exclusive
  EXPECT_EQ(keys("a", "c", true), (Keys{"b", "a"}));
  EXPECT_EQ(keys("", "", true, 1), (Keys{"d"}));  // the visitor stops the scan
  EXPECT_TRUE(keys("e", "", true).empty());
}

TEST_F(RocksStorageTest, DiskBytesCountsTheLog) { EXPECT_GT(storage_->disk_bytes(), 0u); }

}  // namespace
}  // namespace brokerd::server
