#include "task_runner.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <typeinfo>

#include "task_conversions.h"

namespace brokerd::internal {
namespace {

// The TaskContext a handler sees; it lives on the handler thread's stack for one call.
class DeliveryContext final : public TaskContext {
 public:
  DeliveryContext(const v1::Delivery& delivery, nlohmann::json args, nlohmann::json kwargs,
                  const std::atomic<bool>& stop_requested, const RunFlags* flags)
      : delivery_(delivery),
        args_(std::move(args)),
        kwargs_(std::move(kwargs)),
        stop_requested_(stop_requested),
        flags_(flags) {}

  const std::string& id() const override { return delivery_.task_id(); }
  const std::string& name() const override { return delivery_.name(); }
  const std::string& queue() const override { return delivery_.queue(); }
  const nlohmann::json& args() const override { return args_; }
  const nlohmann::json& kwargs() const override { return kwargs_; }
  uint32_t attempt() const override { return delivery_.attempt(); }
  uint32_t retries() const override { return delivery_.retries(); }
  uint32_t max_retries() const override { return delivery_.max_retries(); }
  bool stop_requested() const override {
    return stop_requested_.load() || revoked() || time_limit_exceeded() ||
           (flags_ != nullptr && flags_->lease_lost.load());
  }
  bool revoked() const override { return flags_ != nullptr && flags_->revoked.load(); }
  bool time_limit_exceeded() const override {
    return flags_ != nullptr && (flags_->soft_limit_passed.load() || flags_->hard_limit_passed.load());
  }

 private:
  const v1::Delivery& delivery_;
  const nlohmann::json args_;
  const nlohmann::json kwargs_;
  const std::atomic<bool>& stop_requested_;
  const RunFlags* flags_;
};

// Parses `text` (empty: `empty_value`) or reports why not.
bool parse_arguments(const std::string& text, nlohmann::json empty_value, nlohmann::json* out) {
  if (text.empty()) {
    *out = std::move(empty_value);
    return true;
  }
  *out = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return !out->is_discarded();
}

void set_failure(v1::Complete* complete, const std::string& type, const std::string& message) {
  v1::TaskError* error = complete->mutable_failure()->mutable_error();
  error->set_type(type);
  error->set_message(message);
}

}  // namespace

std::string exception_type_name(const std::exception& e) {
  const char* mangled = typeid(e).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  if (status != 0 || demangled == nullptr) return mangled;
  std::string name(demangled);
  std::free(demangled);
  return name;
}

v1::Complete run_task(const v1::Delivery& delivery, const TaskHandler* handler,
                      const std::atomic<bool>& stop_requested, const RunFlags* flags) {
  v1::Complete complete;
  complete.set_task_id(delivery.task_id());
  complete.set_lease_id(delivery.lease_id());

  if (handler == nullptr || !*handler) {
    set_failure(&complete, "NotRegistered", "no handler registered for task " + delivery.name());
    return complete;
  }
  nlohmann::json args;
  nlohmann::json kwargs;
  if (!parse_arguments(delivery.args_json(), nlohmann::json::array(), &args)) {
    set_failure(&complete, "BadArguments", "args_json is not valid JSON");
    return complete;
  }
  if (!parse_arguments(delivery.kwargs_json(), nlohmann::json::object(), &kwargs)) {
    set_failure(&complete, "BadArguments", "kwargs_json is not valid JSON");
    return complete;
  }

  DeliveryContext context(delivery, std::move(args), std::move(kwargs), stop_requested, flags);
  try {
    const nlohmann::json value = (*handler)(context);
    complete.mutable_success()->set_result_json(dump_json(value));
  } catch (const RetryRequested& retry) {
    // Before std::exception: RetryRequested is one, but it is a request, not a failure.
    v1::Complete::RetryLater* later = complete.mutable_retry();
    later->set_countdown_ms(std::max<int64_t>(0, retry.countdown().count()));
    later->mutable_reason()->set_type("Retry");
    later->mutable_reason()->set_message(retry.what());
  } catch (const std::exception& e) {
    set_failure(&complete, exception_type_name(e), e.what());
  } catch (...) {
    set_failure(&complete, "unknown", "handler threw an exception not derived from std::exception");
  }
  return complete;
}

v1::Complete time_limit_exceeded(const v1::Delivery& delivery, std::chrono::milliseconds limit) {
  v1::Complete complete;
  complete.set_task_id(delivery.task_id());
  complete.set_lease_id(delivery.lease_id());
  set_failure(&complete, "TimeLimitExceeded",
              "task " + delivery.name() + "[" + delivery.task_id() + "] ran past its time limit of " +
                  std::to_string(limit.count()) + " ms");
  complete.mutable_failure()->set_final(true);
  return complete;
}

}  // namespace brokerd::internal
