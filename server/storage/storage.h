// The storage interface the engine writes through. The engine knows key encodings
// (key_layout.h) but nothing of RocksDB; RocksStorage is the implementation.
//
// Writes are applied in order and become visible to reads at once; they become durable
// only when sync() returns. Each write gets a sequence number, so the committer can tell
// which confirmations a finished sync covers.
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
