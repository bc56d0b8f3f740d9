// The storage interface the engine writes through. The engine knows key encodings
// (key_layout.h) but nothing of RocksDB; RocksStorage is the implementation.
//
// Writes are applied in order and become visible to reads at once; they become durable
// only when sync() returns. Each write gets a sequence number, so the committer can tell
// which confirmations a finished sync covers. Reads keep working after a write error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/key_layout.h"

namespace brokerd::server {

// One atomic batch of puts and deletes across families.
class WriteSet {
 public:
  virtual ~WriteSet() = default;
  virtual void put(Family family, std::string_view key, std::string_view value) = 0;
  virtual void erase(Family family, std::string_view key) = 0;
  virtual bool empty() const = 0;
  virtual void clear() = 0;
};

class Storage {
 public:
  // Return false to stop a scan.
  using ScanVisitor = std::function<bool(std::string_view key, std::string_view value)>;

  virtual ~Storage() = default;

  virtual std::unique_ptr<WriteSet> new_write_set() = 0;
  // Applies `batch` atomically (visible, not yet durable) and clears it. Returns the
  // write's sequence number. Thread-safe.
  virtual Result<uint64_t> write(WriteSet& batch) = 0;
  // Makes every write made before the call durable. Thread-safe; may run concurrently
  // with write().
  virtual Status sync() = 0;
  // The sequence number of the latest write. Thread-safe.
  virtual uint64_t last_written_seq() const = 0;

  // ---- write errors (disk full, I/O errors) ---------------------------------------------
  // After a write() or sync() fails, every further write() fails too until recover()
  // succeeds: RocksDB stops writing after such an error, and memory built on top of the
  // failed write must be rebuilt from disk before anything new is written. A failed
  // write still takes a sequence number (see failed_write()). Errors are typed: no space
  // is ResourceExhausted ("disk full ..."), anything else Internal. All thread-safe.
  //
  // The error that stopped writes; OK while writes are allowed.
  virtual Status write_error() const = 0;
  // Stops writes with `cause` as if a write had failed (the engine uses it when it
  // cannot finish an operation whose changes are already in memory).
  virtual void fail_writes(Status cause) = 0;
  // Tries to make the store writable again (RocksDB: DB::Resume(), which writes the
  // memtables out). OK once writes are allowed; an error while the cause persists (still
  // no space) or the store's own recovery is still running: try again later.
  virtual Status recover() = 0;
  // The error of the write with sequence number `seq` if it failed (it applied nothing);
  // OK for a write that succeeded, and for 0. The committer never confirms a failed one.
  virtual Status failed_write(uint64_t seq) const = 0;

  // NotFound when absent.
  virtual Status get(Family family, std::string_view key, std::string* value) = 0;
  // Visits keys in [lower, upper) in order (an empty `upper` means no upper bound).
  // Iteration starts at `lower`, so tombstones below it cost nothing.
  virtual Status scan(Family family, std::string_view lower, std::string_view upper,
                      const ScanVisitor& visit) = 0;
  // The same range, largest key first.
  virtual Status scan_reverse(Family family, std::string_view lower, std::string_view upper,
                              const ScanVisitor& visit) = 0;
  // Bytes of the store's files on disk (tables and write-ahead log). Thread-safe.
  virtual uint64_t disk_bytes() = 0;
};

}  // namespace brokerd::server
