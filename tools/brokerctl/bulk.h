// Bulk operations (purge, dead requeue --all, dead delete --all) are many bounded calls:
// each acts on at most kBulkBatch tasks, so the broker serves other clients in between
// and brokerctl can show progress.
#pragma once

#include <cstdint>

namespace brokerctl {

inline constexpr uint32_t kBulkBatch = 1000;

}  // namespace brokerctl
