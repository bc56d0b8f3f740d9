// A real full disk: brokerd's data dir on a 16 MiB tmpfs, filled up with a ballast file.
// Enqueues are refused with RESOURCE_EXHAUSTED while GetTask and GetQueueStats go on
// working; once the ballast is deleted writes resume without a restart; after kill -9
// every confirmed task is still there.
//
// Needs root (mount). Skips, saying why, when not root or when the mount fails (no
// CAP_SYS_ADMIN in a container, for instance).
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a 16 MiB tmpfs for the data dir";
    // The tmpfs is mounted on the data dir itself: BrokerProcess puts the log (and the
    // port file) next to the data dir, where the full disk cannot swallow them.
    mount_point_ = dir_.file("data");
    std::filesystem::create_directories(mount_point_);
    if (mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=16m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs at " << mount_point_ << ": " << std::strerror(errno);
    }
    mounted_ = true;
    // Small memtables: RocksDB preallocates each WAL file at 1.1 x the memtable size.
    broker_ = std::make_unique<BrokerProcess>(
        mount_point_,
        std::vector<std::string>{"--write-buffer-mb", "1", "--memtable-budget-mb", "4", "--block-cache-mb", "4"});
    broker_->start();
  }

  void TearDown() override {
    if (HasFailure() && broker_) {
      // The end of the log: what happened once the disk was full.
      std::ifstream log(broker_->log_path());
      std::deque<std::string> tail;
      for (std::string line; std::getline(log, line);) {
        tail.push_back(line);
        if (tail.size() > 80) tail.pop_front();
      }
      for (const std::string& line : tail) std::cerr << "brokerd| " << line << '\n';
    }
    broker_.reset();  // SIGKILL if still running: nothing may hold the mount
    if (mounted_ && umount2(mount_point_.c_str(), MNT_DETACH) != 0) {
      ADD_FAILURE() << "umount " << mount_point_ << ": " << std::strerror(errno);
    }
  }

  std::unique_ptr<RawConnection> connect(const std::string& name) {
    auto connection = std::make_unique<RawConnection>(broker_->port());
    EXPECT_TRUE(connection->connected());
    auto reply = connection->hello(name);
    EXPECT_TRUE(reply && reply->has_hello_ok());
    return connection;
  }

  // Writes until the file system has no byte left. RocksDB leaves files it does not
  // know by name alone.
  void fill_with_ballast() {
    const std::string ballast = mount_point_ + "/ballast";
    std::FILE* file = std::fopen(ballast.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    std::setvbuf(file, nullptr, _IONBF, 0);
    const std::string chunk(64 << 10, 'x');
    while (std::fwrite(chunk.data(), 1, chunk.size(), file) == chunk.size()) {
    }
    for (size_t size = 4096; size > 0; size /= 2) {  // the last partial pages too
      while (std::fwrite(chunk.data(), 1, size, file) == size) {
      }
    }
    std::fclose(file);
  }

  std::string mount_point_;
  bool mounted_ = false;
  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(DiskFullTest, RefusesWritesWhileFullReadsGoOnWritesResumeWhenSpaceReturns) {
  auto client = connect("producer");
  uint64_t request_id = 1;
  const std::string args = "[\"" + std::string(2000, 'a') + "\"]";  // fills the WAL fast
  std::vector<std::string> confirmed;
  for (int i = 0; i < 20; ++i) {
    auto reply = client->call(request_id++, enqueue_request("t", args, "early-" + std::to_string(i)));
    ASSERT_TRUE(reply && reply->has_enqueue_ok());
    confirmed.push_back(reply->enqueue_ok().id());
  }

  fill_with_ballast();

  // Enqueue until the broker says the disk is full. A few may still fit in the last
  // pages of the WAL; the first failures may come from the write or its fsync.
  std::set<std::string> never_applied;  // refused before anything was written
  bool exhausted = false;
  for (int i = 0; i < 5000 && !exhausted; ++i) {
    const std::string id = "late-" + std::to_string(i);
    auto reply = client->call(request_id++, enqueue_request("t", args, id));
    ASSERT_TRUE(reply.has_value()) << "no reply to enqueue " << id;
    if (reply->has_enqueue_ok()) {
      confirmed.push_back(id);
      continue;
    }
    ASSERT_TRUE(reply->has_error()) << reply->DebugString();
    const v1::ErrorCode code = reply->error().code();
    ASSERT_TRUE(code == v1::RESOURCE_EXHAUSTED || code == v1::INTERNAL) << reply->DebugString();
    if (code == v1::RESOURCE_EXHAUSTED) {
      exhausted = true;
      EXPECT_NE(reply->error().message().find("disk full"), std::string::npos) << reply->error().message();
      if (reply->error().message().find("accepts no writes") != std::string::npos) never_applied.insert(id);
    }
  }
  ASSERT_TRUE(exhausted) << "the disk never filled up";
  // And it stays refused while full.
  auto refused = client->call(request_id++, enqueue_request("t", args, "refused"));
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::RESOURCE_EXHAUSTED) << refused->DebugString();
  never_applied.insert("refused");

  // Reads work, on this connection and a new one, and confirmed tasks are intact.
  auto reader = connect("reader");
  for (const std::string& id : confirmed) {
    auto record = reader->call(request_id++, get_task_request(id));
    ASSERT_TRUE(record && record->has_task_info()) << id << ": " << (record ? record->DebugString() : "no reply");
    EXPECT_EQ(record->task_info().task().state(), v1::QUEUED);
    EXPECT_EQ(record->task_info().task().args_json(), args);
  }
  v1::Envelope stats;
  stats.mutable_get_queue_stats();
  auto stats_reply = reader->call(request_id++, stats);
  ASSERT_TRUE(stats_reply && stats_reply->has_queue_stats()) << (stats_reply ? stats_reply->DebugString() : "");
  ASSERT_EQ(stats_reply->queue_stats().queues_size(), 1);
  EXPECT_GE(stats_reply->queue_stats().queues(0).ready(), confirmed.size());

  // Space returns: writes resume without a restart.
  std::filesystem::remove(mount_point_ + "/ballast");
  std::string resumed_id;
  int attempt = 0;
  ASSERT_TRUE(eventually(
      [&] {
        const std::string id = "resumed-" + std::to_string(attempt++);
        auto reply = client->call(request_id++, enqueue_request("t", args, id));
        if (!reply || !reply->has_enqueue_ok()) return false;
        resumed_id = id;
        return true;
      },
      std::chrono::seconds(60)))
      << "writes did not resume after the ballast was deleted";
  confirmed.push_back(resumed_id);
  for (const std::string& id : never_applied) {
    auto record = reader->call(request_id++, get_task_request(id));
    ASSERT_TRUE(record.has_value());
    EXPECT_TRUE(record->has_error() && record->error().code() == v1::NOT_FOUND) << id << " was refused but exists";
  }

  // A crash now loses nothing that was confirmed, before or after the full disk.
  client.reset();
  reader.reset();
  broker_->kill_hard();
  broker_->start();
  auto after = connect("after-restart");
  for (const std::string& id : confirmed) {
    auto record = after->call(request_id++, get_task_request(id));
    ASSERT_TRUE(record && record->has_task_info()) << "confirmed task " << id << " lost";
    EXPECT_EQ(record->task_info().task().state(), v1::QUEUED) << id;
  }
  for (const std::string& id : never_applied) {
    auto record = after->call(request_id++, get_task_request(id));
    ASSERT_TRUE(record.has_value());
    EXPECT_TRUE(record->has_error() && record->error().code() == v1::NOT_FOUND) << id << " was refused but exists";
  }
  auto more = after->call(request_id++, enqueue_request("t", args, "after-restart"));
  ASSERT_TRUE(more && more->has_enqueue_ok()) << (more ? more->DebugString() : "");
}

}  // namespace
}  // namespace brokerd::testing
