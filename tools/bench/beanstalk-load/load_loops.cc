#include "load_loops.h"

#include <algorithm>

namespace beanstalk_load {

namespace {

// How long one pump may wait; short enough to notice the deadline and a stop promptly.
constexpr int kPumpSliceMs = 100;

int pump_timeout_ms(const LoopConfig& config) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(config.deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, kPumpSliceMs));
}

bool should_stop(const LoopConfig& config, LoopResult& result) {
  if (config.stop != nullptr && config.stop->load(std::memory_order_relaxed)) {
    if (result.error.empty()) result.error = "stopped";
    return true;
  }
  if (Clock::now() >= config.deadline) {
    if (result.error.empty()) result.error = "time limit reached";
    return true;
  }
  return false;
}

// Reads replies until none is complete; `on_reply` returns false to abort the loop.
template <typename OnReply>
bool take_replies(Connection& connection, LoopResult& result, OnReply&& on_reply) {
  Reply reply;
  for (;;) {
    switch (connection.next_reply(reply)) {
      case ParseResult::kNeedMore:
        return true;
      case ParseResult::kCorrupt:
        result.error = connection.error();
        return false;
      case ParseResult::kReply:
        if (reply.kind == ReplyKind::kOther) {
          result.error = "unexpected reply: " + reply.line;
          return false;
        }
        if (!on_reply(reply)) return false;
    }
  }
}

}  // namespace

LoopResult run_put(Connection& connection, const LoopConfig& config) {
  const std::string command = "put " + std::to_string(config.priority) + " 0 " + std::to_string(config.ttr) + " " +
                              std::to_string(config.payload) + "\r\n" + std::string(config.payload, 'x') + "\r\n";
  LoopResult result;
  uint64_t sent = 0;
  int outstanding = 0;
  while (result.done < config.jobs) {
    while (outstanding < config.pipeline && sent < config.jobs) {
      connection.append(command);
      ++sent;
      ++outstanding;
    }
    if (should_stop(config, result)) return result;
    if (!connection.pump(pump_timeout_ms(config))) {
      result.error = connection.error();
      return result;
    }
    const bool ok = take_replies(connection, result, [&](const Reply& reply) {
      if (reply.kind != ReplyKind::kInserted) {
        result.error = "a put was answered with something other than INSERTED";
        return false;
      }
      --outstanding;
      ++result.done;
      result.last_reply = Clock::now();
      return true;
    });
    if (!ok) return result;
  }
  result.completed = true;
  return result;
}

LoopResult run_drain(Connection& connection, const LoopConfig& config) {
  static constexpr std::string_view kReserve = "reserve-with-timeout 0\r\n";
  LoopResult result;
  bool empty = false;  // a reserve found nothing ready: send no more reserves
  int outstanding = 0;
  while (!empty || outstanding > 0) {
    while (!empty && outstanding < config.pipeline) {
      connection.append(kReserve);
      ++outstanding;
    }
    if (should_stop(config, result)) return result;
    if (!connection.pump(pump_timeout_ms(config))) {
      result.error = connection.error();
      return result;
    }
    const bool ok = take_replies(connection, result, [&](const Reply& reply) {
      --outstanding;
      switch (reply.kind) {
        case ReplyKind::kReserved:
          // The delete goes out with the next pump, behind the reserves already sent.
          connection.append("delete " + std::to_string(reply.id) + "\r\n");
          ++outstanding;
          return true;
        case ReplyKind::kDeleted:
          ++result.done;
          result.last_reply = Clock::now();
          return true;
        case ReplyKind::kTimedOut:
          empty = true;
          return true;
        case ReplyKind::kDeadlineSoon:
          return true;  // a held job nears its TTR; its delete is already on the way
        default:
          result.error = "a reserve or delete was answered with INSERTED";
          return false;
      }
    });
    if (!ok) return result;
  }
  result.completed = true;
  return result;
}

}  // namespace beanstalk_load
