// Storage on one RocksDB database with a column family per access pattern
// (see key_layout.h for the layout).
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include <rocksdb/db.h>

#include "storage/storage.h"
#include "storage/write_failures.h"

namespace brokerd::server {

struct RocksStorageOptions {
  std::string path;
  uint64_t block_cache_bytes = 64ull << 20;
  uint64_t write_buffer_bytes = 16ull << 20;      // per memtable
  uint64_t memtable_budget_bytes = 64ull << 20;   // all memtables of all families together
  // true: write() only appends to RocksDB's in-memory WAL buffer and sync() writes and
  // fsyncs it in one go. Request threads then make no file syscalls at all, so they are
  // never stalled behind an fsync of the same file, and one sync carries every pending
  // write (group commit). Unsynced writes are lost if the process dies, so use it only
  // when every confirmation waits for sync() (sync policy `always`).
  bool defer_wal_writes = false;
};

class RocksStorage final : public Storage {
 public:
  // Opens (creating if needed) the database and checks its format version. Fails with a
  // clear message when another process holds the directory.
  static Result<std::unique_ptr<RocksStorage>> open(const RocksStorageOptions& options);
  ~RocksStorage() override;

  std::unique_ptr<WriteSet> new_write_set() override;
  Result<uint64_t> write(WriteSet& batch) override;
  Status sync() override;
  uint64_t last_written_seq() const override { return written_seq_.load(std::memory_order_acquire); }
  Status write_error() const override { return failures_.latched(); }
  void fail_writes(Status cause) override;
  Status recover() override;
  Status failed_write(uint64_t seq) const override { return failures_.failed(seq); }
  Status get(Family family, std::string_view key, std::string* value) override;
  Status scan(Family family, std::string_view lower, std::string_view upper,
              const ScanVisitor& visit) override;
  Status scan_reverse(Family family, std::string_view lower, std::string_view upper,
                      const ScanVisitor& visit) override;
  uint64_t disk_bytes() override;

 private:
  Status scan_range(Family family, std::string_view lower, std::string_view upper, const ScanVisitor& visit,
                    bool reverse);
  RocksStorage() = default;
  Status check_format_version();
  rocksdb::ColumnFamilyHandle* handle(Family family) const {
    return handles_[static_cast<int>(family)];
  }

  bool defer_wal_writes_ = false;
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kFamilyCount> handles_{};
  std::mutex write_mutex_;  // orders writes with their sequence numbers
  std::atomic<uint64_t> written_seq_{0};  // GUARDED_BY(write_mutex_) for writers
  WriteFailures failures_;
};

}  // namespace brokerd::server
