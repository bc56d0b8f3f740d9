// A Storage decorator for tests: forwards to a real store and, on demand, fails writes
// and/or syncs as a full disk does. A failed write goes to the inner store stopped
// (Storage::fail_writes), so it takes a sequence number there and applies nothing, as a
// real failed RocksDB write; recover() fails while the fault is armed. Reads of task
// records can fail too, as an I/O error would.
#pragma once

#include <atomic>
#include <memory>

#include "storage/storage.h"

namespace brokerd::server {

class FaultyStorage final : public Storage {
 public:
  explicit FaultyStorage(Storage& inner) : inner_(inner) {}

  // From now on writes (and, with `syncs`, syncs) fail with "no space" until clear().
  void fail_writes_with_no_space(bool writes = true, bool syncs = false) {
    fail_writes_.store(writes);
    fail_syncs_.store(syncs);
  }
  // Lets `writes` more writes through, then fails every write as above: a crash
  // between two writes of one operation, if it made two.
  void fail_writes_after(int writes) { writes_left_.store(writes); }
  // From now on reads of task records fail with an I/O error (not NOT_FOUND).
  void fail_task_reads(bool fail) { fail_task_reads_.store(fail); }
  void clear() {
    fail_writes_.store(false);
    fail_syncs_.store(false);
    writes_left_.store(-1);
    fail_task_reads_.store(false);
  }
  uint64_t writes() const { return writes_.load(); }
  static Status no_space() {
    return Status::ResourceExhausted("disk full (injected): IO error: No space left on device");
  }

  std::unique_ptr<WriteSet> new_write_set() override { return inner_.new_write_set(); }
  Result<uint64_t> write(WriteSet& batch) override {
    ++writes_;
    if (writes_left_.load() == 0) fail_writes_.store(true);
    if (writes_left_.load() > 0) --writes_left_;
    if (fail_writes_.load()) inner_.fail_writes(no_space());
    return inner_.write(batch);
  }
  Status sync() override {
    if (fail_syncs_.load()) {
      inner_.fail_writes(no_space());  // as RocksStorage does after a failed sync
      return no_space();
    }
    return inner_.sync();
  }
  uint64_t last_written_seq() const override { return inner_.last_written_seq(); }
  Status write_error() const override { return inner_.write_error(); }
  void fail_writes(Status cause) override { inner_.fail_writes(std::move(cause)); }
  Status recover() override {
    if (fail_writes_.load() || fail_syncs_.load()) return no_space();
    return inner_.recover();
  }
  Status failed_write(uint64_t seq) const override { return inner_.failed_write(seq); }
  Status get(Family family, std::string_view key, std::string* value) override {
    if (family == Family::kTasks && fail_task_reads_.load()) return Status::Internal("IO error (injected)");
    return inner_.get(family, key, value);
  }
  Status scan(Family family, std::string_view lower, std::string_view upper, const ScanVisitor& visit) override {
    return inner_.scan(family, lower, upper, visit);
  }
  Status scan_reverse(Family family, std::string_view lower, std::string_view upper,
                      const ScanVisitor& visit) override {
    return inner_.scan_reverse(family, lower, upper, visit);
  }
  uint64_t disk_bytes() override { return inner_.disk_bytes(); }

 private:
  Storage& inner_;
  std::atomic<bool> fail_writes_{false};
  std::atomic<bool> fail_syncs_{false};
  std::atomic<int> writes_left_{-1};  // -1: no countdown armed
  std::atomic<bool> fail_task_reads_{false};
  std::atomic<uint64_t> writes_{0};
};

}  // namespace brokerd::server
