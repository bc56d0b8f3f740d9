// Which requests each role may send. One table, so that adding a request kind forces a
// decision here: kinds the table does not name are admin-only.
#pragma once

#include <optional>
#include <string_view>

#include "broker.pb.h"

namespace brokerd::server {

enum class Role {
  kProducer,  // enqueue, and read the tasks it enqueued
  kWorker,    // consume, complete, release, heartbeat
  kAdmin,     // everything
};

const char* role_name(Role role);
std::optional<Role> parse_role(std::string_view text);

// Whether `role` may send a request of `kind` at all. Producers' reads are further
// limited to their own tasks by the handlers (see Principal in token_store.h).
bool role_allows(Role role, v1::Envelope::BodyCase kind);

}  // namespace brokerd::server
