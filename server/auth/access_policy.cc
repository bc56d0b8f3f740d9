#include "auth/access_policy.h"

namespace brokerd::server {

const char* role_name(Role role) {
  switch (role) {
    case Role::kProducer: return "producer";
    case Role::kWorker: return "worker";
    case Role::kAdmin: return "admin";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view text) {
  if (text == "producer") return Role::kProducer;
  if (text == "worker") return Role::kWorker;
  if (text == "admin") return Role::kAdmin;
  return std::nullopt;
}

bool role_allows(Role role, v1::Envelope::BodyCase kind) {
  using Body = v1::Envelope::BodyCase;
  if (role == Role::kAdmin) return true;
  switch (kind) {
    case Body::kHello:
    case Body::kPing:
      return true;
    case Body::kEnqueue:
    case Body::kEnqueueBatch:
    case Body::kGetTask:
    case Body::kWaitResult:
      return role == Role::kProducer;
    case Body::kConsume:
    case Body::kComplete:
    case Body::kHeartbeat:
    case Body::kRelease:
      return role == Role::kWorker;
    default:
      return false;  // operator requests: purge, revoke, dead letters, listings, stats, events
  }
}

}  // namespace brokerd::server
