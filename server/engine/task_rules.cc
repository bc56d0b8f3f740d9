#include "engine/task_rules.h"

#include <algorithm>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace brokerd::server {
namespace {

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '@' || c == '/' || c == '-';
}

Status validate_identifier(std::string_view value, size_t max_bytes, const char* field) {
  if (value.empty() || value.size() > max_bytes) {
    return Status::InvalidArgument(std::string(field) + " must be 1.." + std::to_string(max_bytes) +
                                   " characters");
  }
  if (!std::all_of(value.begin(), value.end(), is_identifier_char)) {
    return Status::InvalidArgument(std::string(field) + " may only contain A-Z a-z 0-9 _ . : @ / -");
  }
  return Status::Ok();
}

char first_non_space(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return c;
  }
  return '\0';
}

}  // namespace

Status validate_queue_name(std::string_view queue) {
  return validate_identifier(queue, kMaxQueueNameBytes, "queue");
}

Status validate_task_id(std::string_view id) { return validate_identifier(id, kMaxTaskIdBytes, "id"); }

bool is_valid_json(std::string_view text) {
  return text.find('\0') == std::string_view::npos && nlohmann::json::accept(text);
}

int64_t saturating_add(int64_t time_ms, int64_t duration_ms) {
  int64_t sum = 0;
  if (!__builtin_add_overflow(time_ms, duration_ms, &sum)) return sum;
  return duration_ms > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

Result<v1::TaskRecord> build_record(const v1::TaskSpec& spec, const TaskLimits& limits, int64_t now_ms) {
  if (spec.name().empty() || spec.name().size() > kMaxNameBytes) {
    return Status::InvalidArgument("name must be 1.." + std::to_string(kMaxNameBytes) + " bytes");
  }
  if (std::any_of(spec.name().begin(), spec.name().end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return Status::InvalidArgument("name must not contain control characters");
  }
  if (!spec.id().empty()) {
    if (Status s = validate_task_id(spec.id()); !s.ok()) return s;
  }
  const std::string_view queue = spec.queue().empty() ? kDefaultQueue : std::string_view(spec.queue());
  if (Status s = validate_queue_name(queue); !s.ok()) return s;
  if (spec.args_json().size() + spec.kwargs_json().size() > limits.max_payload_bytes) {
    return Status::InvalidArgument("args and kwargs exceed max_payload_bytes (" +
                                   std::to_string(limits.max_payload_bytes) + ")");
  }
  const std::string args = spec.args_json().empty() ? "[]" : spec.args_json();
  const std::string kwargs = spec.kwargs_json().empty() ? "{}" : spec.kwargs_json();
  if (first_non_space(args) != '[' || !is_valid_json(args)) {
    return Status::InvalidArgument("args_json must be a JSON array");
  }
  if (first_non_space(kwargs) != '{' || !is_valid_json(kwargs)) {
    return Status::InvalidArgument("kwargs_json must be a JSON object");
  }
  if (spec.priority() > kMaxPriority) return Status::InvalidArgument("priority must be 0..9");
  if (spec.countdown_ms() < 0) return Status::InvalidArgument("countdown_ms must be >= 0");
  if (spec.eta_ms() < 0) return Status::InvalidArgument("eta_ms must be >= 0");
  if (spec.result_ttl_ms() < 0) return Status::InvalidArgument("result_ttl_ms must be >= 0");
  const v1::RetryPolicy& retry = spec.retry();
  if (retry.max_retries() > kMaxRetriesLimit) {
    return Status::InvalidArgument("retry.max_retries must be <= " + std::to_string(kMaxRetriesLimit));
  }
  if (retry.has_backoff_base_ms() && retry.backoff_base_ms() < 1) {
    return Status::InvalidArgument("retry.backoff_base_ms must be >= 1");
  }
  const int64_t base = retry.has_backoff_base_ms() ? retry.backoff_base_ms() : kDefaultBackoffBaseMs;
  if (retry.has_backoff_max_ms() && retry.backoff_max_ms() < base) {
    return Status::InvalidArgument("retry.backoff_max_ms must be >= backoff_base_ms");
  }

  if (spec.max_deliveries() > kMaxDeliveriesLimit) {
    return Status::InvalidArgument("max_deliveries must be <= " + std::to_string(kMaxDeliveriesLimit));
  }
  if (spec.time_limit_ms() < 0 || spec.time_limit_ms() > kMaxTimeLimitMs || spec.soft_time_limit_ms() < 0 ||
      spec.soft_time_limit_ms() > kMaxTimeLimitMs) {
    return Status::InvalidArgument("time_limit_ms and soft_time_limit_ms must be 0.." +
                                   std::to_string(kMaxTimeLimitMs));
  }
  if (spec.time_limit_ms() > 0 && spec.soft_time_limit_ms() > spec.time_limit_ms()) {
    return Status::InvalidArgument("soft_time_limit_ms must not exceed time_limit_ms");
  }

  v1::TaskRecord task;
  task.set_id(spec.id());
  task.set_name(spec.name());
  task.set_queue(std::string(queue));
  task.set_args_json(args);
  task.set_kwargs_json(kwargs);
  task.set_priority(spec.priority());
  *task.mutable_retry() = retry;
  task.set_result_ttl_ms(spec.result_ttl_ms() > 0 ? spec.result_ttl_ms() : limits.default_result_ttl_ms);
  task.set_owner(spec.owner());  // set by the request router from the authenticated token
  task.set_max_deliveries(spec.max_deliveries());
  task.set_time_limit_ms(spec.time_limit_ms());
  task.set_soft_time_limit_ms(spec.soft_time_limit_ms());
  task.set_created_ms(now_ms);
  int64_t due = 0;
  if (spec.eta_ms() > 0) {
    due = spec.eta_ms();
  } else if (spec.countdown_ms() > 0) {
    due = saturating_add(now_ms, spec.countdown_ms());
  }
  task.set_due_ms(due > now_ms ? due : 0);
  return task;
}

uint32_t max_retries(const v1::TaskRecord& task) { return task.retry().max_retries(); }

int64_t retry_delay_ms(const v1::RetryPolicy& policy, uint32_t retry_number, std::mt19937_64& random) {
  const int64_t base = policy.has_backoff_base_ms() ? policy.backoff_base_ms() : kDefaultBackoffBaseMs;
  const int64_t cap = policy.has_backoff_max_ms() ? policy.backoff_max_ms() : kDefaultBackoffMaxMs;
  int64_t delay = base;
  // Doubling stops at the cap; checking against cap / 2 first keeps a huge base or cap
  // (both client-chosen) from overflowing into a negative delay.
  for (uint32_t i = 1; i < retry_number && delay < cap; ++i) delay = delay > cap / 2 ? cap : delay * 2;
  delay = std::min(delay, cap);
  const bool jitter = policy.has_jitter() ? policy.jitter() : true;
  if (!jitter || delay < 2) return delay;
  std::uniform_int_distribution<int64_t> spread(delay / 2, delay);
  return spread(random);
}

void record_transition(v1::TaskRecord& task, v1::TaskState state, int64_t now_ms) {
  task.set_state(state);
  auto* history = task.mutable_history();
  if (history->size() >= kMaxHistoryEntries) {
    // Keep the creation entry; drop the oldest after it.
    history->erase(history->begin() + 1);
  }
  auto* entry = history->Add();
  entry->set_state(state);
  entry->set_at_ms(now_ms);
}

bool is_terminal(v1::TaskState state) {
  return state == v1::SUCCESS || state == v1::FAILURE || state == v1::REVOKED;
}

void count_transition(v1::QueueCounters& counters, v1::TaskState from, v1::TaskState to) {
  auto adjust = [&](v1::TaskState state, int delta) {
    auto apply = [delta](uint64_t value) -> uint64_t {
      if (delta < 0) return value == 0 ? 0 : value - 1;
      return value + 1;
    };
    switch (state) {
      case v1::QUEUED: counters.set_ready(apply(counters.ready())); break;
      case v1::SCHEDULED: counters.set_scheduled(apply(counters.scheduled())); break;
      case v1::STARTED: counters.set_in_flight(apply(counters.in_flight())); break;
      case v1::RETRY: counters.set_retrying(apply(counters.retrying())); break;
      case v1::SUCCESS: if (delta > 0) counters.set_succeeded(counters.succeeded() + 1); break;
      case v1::FAILURE: if (delta > 0) counters.set_failed(counters.failed() + 1); break;
      case v1::REVOKED: if (delta > 0) counters.set_revoked(counters.revoked() + 1); break;
      default: break;
    }
  };
  if (from != v1::TASK_STATE_UNSPECIFIED) adjust(from, -1);
  if (to != v1::TASK_STATE_UNSPECIFIED) adjust(to, +1);
}

}  // namespace brokerd::server
