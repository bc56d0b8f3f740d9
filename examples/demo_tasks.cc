#include "demo_tasks.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>

namespace brokerd_demo {
namespace {

using Clock = std::chrono::steady_clock;

// Argument `index` by position, else by keyword `name`: Celery tasks may be called either
// way (add.delay(2, 3) or add.delay(x=2, y=3)).
const nlohmann::json& argument(brokerd::TaskContext& task, size_t index, const char* name) {
  if (task.args().is_array() && index < task.args().size()) return task.args()[index];
  if (task.kwargs().is_object() && task.kwargs().contains(name)) return task.kwargs()[name];
  throw TypeError(task.name() + "() missing required argument '" + name + "'");
}

const nlohmann::json& number_argument(brokerd::TaskContext& task, size_t index, const char* name) {
  const nlohmann::json& value = argument(task, index, name);
  if (!value.is_number()) {
    throw TypeError(task.name() + "() argument '" + name + "' must be a number, not " +
                    value.type_name());
  }
  return value;
}

// Sleeps in short steps so a stopping worker is not held up by a long task. Returns false
// if the worker began stopping first.
bool interruptible_sleep(brokerd::TaskContext& task, std::chrono::duration<double> duration) {
  constexpr auto kStep = std::chrono::milliseconds(50);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(duration);
  while (Clock::now() < deadline) {
    if (task.stop_requested()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(kStep, deadline - Clock::now()));
  }
  return true;
}

// FNV-1a: a stable hash, so the same user always gets the same report rows.
uint64_t stable_hash(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char byte : text) {
    hash ^= byte;
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace

nlohmann::json add(brokerd::TaskContext& task) {
  const auto& x = number_argument(task, 0, "x");
  const auto& y = number_argument(task, 1, "y");
  if (x.is_number_integer() && y.is_number_integer()) return x.get<int64_t>() + y.get<int64_t>();
  return x.get<double>() + y.get<double>();
}

nlohmann::json divide(brokerd::TaskContext& task) {
  const double x = number_argument(task, 0, "x").get<double>();
  const double y = number_argument(task, 1, "y").get<double>();
  if (y == 0) throw ZeroDivisionError("division by zero");
  return x / y;
}

nlohmann::json sleep(brokerd::TaskContext& task) {
  const auto& seconds = number_argument(task, 0, "seconds");
  if (seconds.get<double>() < 0) throw std::invalid_argument("sleep length must be non-negative");
  if (!interruptible_sleep(task, std::chrono::duration<double>(seconds.get<double>()))) {
    task.retry(std::chrono::milliseconds(0), "worker stopped before the sleep finished");
  }
  return seconds;
}

nlohmann::json generate_report(brokerd::TaskContext& task) {
  const nlohmann::json& user_id = argument(task, 0, "user_id");
  // Stands in for the slow query a real report would run.
  if (!interruptible_sleep(task, std::chrono::milliseconds(300))) {
    task.retry(std::chrono::milliseconds(0), "worker stopped before the report was built");
  }
  uint64_t seed = stable_hash(user_id.dump());
  nlohmann::json rows = nlohmann::json::array();
  for (int month = 1; month <= 3; ++month) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;  // LCG step
    const int orders = static_cast<int>((seed >> 33) % 50);
    const double revenue = static_cast<double>(orders * 1999 + (seed >> 40) % 1000) / 100.0;
    char label[8];
    std::snprintf(label, sizeof label, "2024-%02d", month);
    rows.push_back({{"month", label}, {"orders", orders}, {"revenue", revenue}});
  }
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return {{"user_id", user_id}, {"generated_at", now_ms}, {"rows", rows}};
}

void register_demo_tasks(brokerd::Worker& worker) {
  worker.register_task("add", brokerd_demo::add);
  worker.register_task("divide", brokerd_demo::divide);
  worker.register_task("sleep", brokerd_demo::sleep);  // not ::sleep from <unistd.h>
  worker.register_task("generate_report", brokerd_demo::generate_report);
}

}  // namespace brokerd_demo
