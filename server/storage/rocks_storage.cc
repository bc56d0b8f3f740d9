#include "storage/rocks_storage.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "storage/rocks_logger.h"

namespace brokerd::server {
namespace {

Status from_rocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(std::string(what) + ": not found");
  // ENOSPC (and a space limit we might set one day) is the one error an operator fixes
  // without us: typed, so that clients see RESOURCE_EXHAUSTED, "disk full".
  if (s.IsNoSpace() || (s.IsIOError() && s.subcode() == rocksdb::Status::kSpaceLimit)) {
    return Status::ResourceExhausted("disk full (" + std::string(what) + "): " + s.ToString());
  }
  return Status::Internal(std::string(what) + ": " + s.ToString());
}

class RocksWriteSet final : public WriteSet {
 public:
  explicit RocksWriteSet(const std::array<rocksdb::ColumnFamilyHandle*, kFamilyCount>& handles)
      : handles_(handles) {}
  void put(Family family, std::string_view key, std::string_view value) override {
    batch_.Put(handles_[static_cast<int>(family)], rocksdb::Slice(key.data(), key.size()),
               rocksdb::Slice(value.data(), value.size()));
  }
  void erase(Family family, std::string_view key) override {
    batch_.Delete(handles_[static_cast<int>(family)], rocksdb::Slice(key.data(), key.size()));
  }
  bool empty() const override { return batch_.Count() == 0; }
  void clear() override { batch_.Clear(); }
  rocksdb::WriteBatch* batch() { return &batch_; }

 private:
  const std::array<rocksdb::ColumnFamilyHandle*, kFamilyCount>& handles_;
  rocksdb::WriteBatch batch_;
};

rocksdb::ColumnFamilyOptions family_options(Family family, const std::shared_ptr<rocksdb::Cache>& cache,
                                            uint64_t write_buffer_bytes) {
  rocksdb::ColumnFamilyOptions options;
  options.write_buffer_size = write_buffer_bytes;
  options.max_write_buffer_number = 3;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Point lookups of task records (random ids) must not re-read a whole SST index each
  // time once the data outgrows the cache: partitioned indexes and bloom filters load a
  // small piece per lookup, and their top levels stay pinned at high cache priority.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (family == Family::kReady || family == Family::kDelayed || family == Family::kExpiry) {
    // These families are FIFOs: their heads are deleted constantly. Files dense with
    // tombstones are compacted early so that scans from the head stay cheap.
    options.table_properties_collector_factories.emplace_back(
        rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/128 * 1024,
                                                      /*deletion_trigger=*/16 * 1024));
  }
  return options;
}

}  // namespace

Result<std::unique_ptr<RocksStorage>> RocksStorage::open(const RocksStorageOptions& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.max_total_wal_size = 256ull << 20;
  db_options.keep_log_file_num = 5;
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.manual_wal_flush = options.defer_wal_writes;
  // Not a LOG file on the data disk: see rocks_logger.h.
  db_options.info_log = std::make_shared<RocksLogger>();
  db_options.info_log_level = rocksdb::InfoLogLevel::INFO_LEVEL;
  // Memory is bounded by settings, not by backlog: one budget for every memtable, one
  // block cache for every family.
  db_options.db_write_buffer_size = options.memtable_budget_bytes;
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes, /*num_shard_bits=*/-1,
                                    /*strict_capacity_limit=*/false, /*high_pri_pool_ratio=*/0.5);

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kFamilyCount; ++i) {
    const auto family = static_cast<Family>(i);
    descriptors.emplace_back(i == 0 ? rocksdb::kDefaultColumnFamilyName : family_name(family),
                             family_options(family, cache, options.write_buffer_bytes));
  }
  // The default family serves as `tasks`, so every family has a name we chose.
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::Internal("data dir " + options.path +
                              " is in use by another brokerd (RocksDB lock held): " + s.ToString());
    }
    return Status::Internal("cannot open data dir " + options.path + ": " + s.ToString());
  }
  std::unique_ptr<RocksStorage> storage(new RocksStorage());
  storage->db_.reset(raw);
  storage->defer_wal_writes_ = options.defer_wal_writes;
  for (int i = 0; i < kFamilyCount; ++i) storage->handles_[i] = handles[i];
  Status format = storage->check_format_version();
  if (!format.ok()) return format;
  return storage;
}

RocksStorage::~RocksStorage() {
  if (!db_) return;
  if (!failures_.latched().ok()) {
    // After a write error (not recovered) the WAL writer must not be used again (see
    // sync()), and a memtable flush would use it: close as is. Nothing unconfirmed is
    // owed to anyone, and the next open replays what the WAL holds.
    fprintf(stderr, "brokerd: closing the store after an unrecovered write error: %s\n",
            failures_.latched().message().c_str());
    for (auto* handle : handles_) {
      if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
    return;
  }
  db_->FlushWAL(/*sync=*/true).PermitUncheckedError();
  // Persist the memtables too, so the next start has no WAL to replay: a clean restart
  // then serves in well under a second whatever was written before it.
  std::vector<rocksdb::ColumnFamilyHandle*> families(handles_.begin(), handles_.end());
  rocksdb::FlushOptions flush;
  flush.wait = true;
  if (rocksdb::Status s = db_->Flush(flush, families); !s.ok()) {
    fprintf(stderr, "brokerd: flushing memtables at close failed (the WAL still has everything): %s\n",
            s.ToString().c_str());
  }
  for (auto* handle : handles_) {
    if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
}

Status RocksStorage::check_format_version() {
  std::string value;
  Status s = get(Family::kMeta, keys::kFormatVersion, &value);
  const std::string expected = std::to_string(kStorageFormatVersion);
  if (s.is_not_found()) {
    rocksdb::WriteOptions sync_write;
    sync_write.sync = true;
    return from_rocks(db_->Put(sync_write, handle(Family::kMeta),
                               rocksdb::Slice(keys::kFormatVersion.data(), keys::kFormatVersion.size()),
                               expected),
                      "write format version");
  }
  if (!s.ok()) return s;
  if (value != expected) {
    return Status::Internal("data dir has storage format version " + value + ", this brokerd reads " +
                            expected);
  }
  return Status::Ok();
}

std::unique_ptr<WriteSet> RocksStorage::new_write_set() {
  return std::make_unique<RocksWriteSet>(handles_);
}

Result<uint64_t> RocksStorage::write(WriteSet& batch) {
  auto& rocks_batch = static_cast<RocksWriteSet&>(batch);
  rocksdb::WriteOptions options;  // not synced here: the committer syncs groups of writes
  std::lock_guard lock(write_mutex_);
  Status error = failures_.latched();
  if (error.ok()) {
    error = from_rocks(db_->Write(options, rocks_batch.batch()), "write");
    if (!error.ok()) failures_.latch(error);
  }
  rocks_batch.clear();
  // A failed write takes a number too: see WriteFailures.
  const uint64_t seq = written_seq_.load(std::memory_order_relaxed) + 1;
  written_seq_.store(seq, std::memory_order_release);
  if (!error.ok()) {
    failures_.note_failed(seq, error);
    return error;
  }
  return seq;
}

Status RocksStorage::sync() {
  // Never touch the WAL again between an error and Resume(): RocksDB's file writer
  // asserts that nobody does (Debian's librocksdb keeps its assertions: brokerd would
  // abort), and it could not write anyway.
  if (Status latched = failures_.latched(); !latched.ok()) return latched;
  Status s = defer_wal_writes_ ? from_rocks(db_->FlushWAL(/*sync=*/true), "write and sync WAL")
                               : from_rocks(db_->SyncWAL(), "sync WAL");
  // What was written may now be in memory only: stop writing until recover(), so the
  // engine notices and rebuilds from what the store holds.
  if (!s.ok()) failures_.latch(s);
  return s;
}

void RocksStorage::fail_writes(Status cause) { failures_.latch(cause); }

Status RocksStorage::recover() {
  const Status latched = failures_.latched();
  if (latched.ok()) return Status::Ok();
  // Resume() clears RocksDB's background error after writing every memtable out (it
  // cannot trust the WAL after a failed append); OK at once when RocksDB had none.
  rocksdb::Status s = db_->Resume();
  if (s.IsBusy()) {
    // RocksDB recovers from no space on its own (its SstFileManager polls free space)
    // and refuses a manual Resume() meanwhile: report the original error, try later.
    return latched;
  }
  if (!s.ok()) return from_rocks(s, "resume after write error");
  failures_.clear();
  return Status::Ok();
}

Status RocksStorage::get(Family family, std::string_view key, std::string* value) {
  rocksdb::PinnableSlice pinned;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), handle(family), rocksdb::Slice(key.data(), key.size()), &pinned);
  if (!s.ok()) return from_rocks(s, family_name(family));
  value->assign(pinned.data(), pinned.size());
  return Status::Ok();
}

Status RocksStorage::scan(Family family, std::string_view lower, std::string_view upper,
                          const ScanVisitor& visit) {
  return scan_range(family, lower, upper, visit, /*reverse=*/false);
}

Status RocksStorage::scan_reverse(Family family, std::string_view lower, std::string_view upper,
                                  const ScanVisitor& visit) {
  return scan_range(family, lower, upper, visit, /*reverse=*/true);
}

Status RocksStorage::scan_range(Family family, std::string_view lower, std::string_view upper,
                                const ScanVisitor& visit, bool reverse) {
  rocksdb::ReadOptions options;
  rocksdb::Slice lower_slice(lower.data(), lower.size());
  rocksdb::Slice upper_slice(upper.data(), upper.size());
  // Tight bounds keep the iterator from stepping over tombstones outside the range.
  options.iterate_lower_bound = &lower_slice;
  if (!upper.empty()) options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, handle(family)));
  // With the bounds set, SeekToLast lands on the last key below the upper bound.
  if (reverse) {
    it->SeekToLast();
  } else {
    it->Seek(lower_slice);
  }
  for (; it->Valid(); reverse ? it->Prev() : it->Next()) {
    const rocksdb::Slice k = it->key();
    const rocksdb::Slice v = it->value();
    if (!visit(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  return from_rocks(it->status(), "scan");
}

uint64_t RocksStorage::disk_bytes() {
  uint64_t total = 0;
  for (int family = 0; family < kFamilyCount; ++family) {
    uint64_t bytes = 0;
    if (db_->GetIntProperty(handle(static_cast<Family>(family)), rocksdb::DB::Properties::kTotalSstFilesSize, &bytes)) {
      total += bytes;
    }
  }
  rocksdb::VectorLogPtr logs;
  if (db_->GetSortedWalFiles(logs).ok()) {
    for (const auto& log : logs) total += log->SizeFileBytes();
  }
  return total;
}

}  // namespace brokerd::server
