#include "task_plan.h"

#include <chrono>

namespace torture {

namespace {

// Positions in the args array: [seq, flaky, poison, slow].
constexpr size_t kFlakyArg = 1;
constexpr size_t kPoisonArg = 2;
constexpr size_t kSlowArg = 3;

bool is_flaky(uint64_t seq) { return seq % 10 == 3; }
bool is_delayed(uint64_t seq) { return seq % 10 == 7; }
bool is_slow(uint64_t seq) { return seq % 100 == 51; }

// FNV-1a, then splitmix64's finalizer so that ids differing in one digit map to
// unrelated values.
uint64_t hash(const std::string& text) {
  uint64_t x = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) x = (x ^ c) * 0x100000001b3ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool flag(const nlohmann::json& args, size_t index) {
  return args.is_array() && args.size() > index && args[index].is_boolean() && args[index].get<bool>();
}

}  // namespace

std::string task_id(const std::string& run_tag, unsigned producer, uint64_t seq) {
  return run_tag + "-p" + std::to_string(producer) + "-" + std::to_string(seq);
}

bool is_poison(const std::string& id, double poison_fraction) {
  // The top 53 bits as a double in [0, 1).
  return static_cast<double>(hash(id) >> 11) * 0x1.0p-53 < poison_fraction;
}

brokerd::TaskRequest task_request(const std::string& id, uint64_t seq, double poison_fraction) {
  const bool poison = is_poison(id, poison_fraction);
  // A poison task takes no other detour: what it must end as stays simple to check.
  const bool flaky = !poison && is_flaky(seq);
  const bool slow = !poison && is_slow(seq);
  brokerd::TaskRequest request;
  request.name = kTaskName;
  request.args = nlohmann::json::array({seq, flaky, poison, slow});
  request.options.id = id;
  request.options.priority = static_cast<uint32_t>(seq % 3);
  if (flaky) {
    // Short backoff so the retry happens while the chaos is still going on.
    request.options.retry.max_retries = 3;
    request.options.retry.backoff_base = std::chrono::milliseconds(20);
    request.options.retry.backoff_max = std::chrono::milliseconds(200);
  }
  // A poison task keeps the default retry policy: its lost deliveries wait out the
  // broker's default backoff, as an application's would.
  if (poison) request.options.max_deliveries = kPoisonMaxDeliveries;
  if (!poison && is_delayed(seq)) request.options.countdown = std::chrono::milliseconds(300);
  return request;
}

bool fails_first_run(const nlohmann::json& args) { return flag(args, kFlakyArg); }
bool is_poison(const nlohmann::json& args) { return flag(args, kPoisonArg); }
bool is_slow(const nlohmann::json& args) { return flag(args, kSlowArg); }

}  // namespace torture
