#include "task_plan.h"

#include <chrono>

namespace torture {

namespace {

// Positions in the args array: [seq, flaky, slow].
constexpr size_t kFlakyArg = 1;
constexpr size_t kSlowArg = 2;

bool is_flaky(uint64_t seq) { return seq % 10 == 3; }
bool is_delayed(uint64_t seq) { return seq % 10 == 7; }
bool is_slow(uint64_t seq) { return seq % 100 == 51; }

bool flag(const nlohmann::json& args, size_t index) {
  return args.is_array() && args.size() > index && args[index].is_boolean() && args[index].get<bool>();
}

}  // namespace

std::string task_id(const std::string& run_tag, unsigned producer, uint64_t seq) {
  return run_tag + "-p" + std::to_string(producer) + "-" + std::to_string(seq);
}

brokerd::TaskRequest task_request(const std::string& id, uint64_t seq) {
  const bool flaky = is_flaky(seq);
  const bool slow = is_slow(seq);
  brokerd::TaskRequest request;
  request.name = kTaskName;
  request.args = nlohmann::json::array({seq, flaky, slow});
  request.options.id = id;
  request.options.priority = static_cast<uint32_t>(seq % 3);
  if (flaky) {
    // Short backoff so the retry happens while the chaos is still going on.
    request.options.retry.max_retries = 3;
    request.options.retry.backoff_base = std::chrono::milliseconds(20);
    request.options.retry.backoff_max = std::chrono::milliseconds(200);
  }
  if (is_delayed(seq)) request.options.countdown = std::chrono::milliseconds(300);
  return request;
}

bool fails_first_run(const nlohmann::json& args) { return flag(args, kFlakyArg); }
bool is_slow(const nlohmann::json& args) { return flag(args, kSlowArg); }

}  // namespace torture
