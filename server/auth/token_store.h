// The access tokens brokerd accepts, loaded from auth_tokens_file, and the role each one
// grants. Only SHA-256 digests of the tokens are kept in memory, and a presented token
// is compared against every entry without an early exit, so neither the comparison time
// nor a memory dump tells an attacker anything about a valid token.
//
// File format, one entry per line (blank lines and lines starting with '#' ignored):
//     ROLE TOKEN [NAME]
// ROLE is producer, worker or admin; TOKEN is at least 16 printable characters without
// spaces; NAME identifies the holder in logs and, for producers, owns the tasks they
// enqueue: required for producers (several tokens may share one, e.g. while rotating),
// "ROLE-LINE" by default for the others.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/access_policy.h"
#include "common/status.h"

namespace brokerd::server {

struct Principal {
  std::string name;
  Role role = Role::kAdmin;
};

class TokenStore {
 public:
  static constexpr size_t kMinTokenLength = 16;

  TokenStore() = default;  // empty: authentication is off

  // Errors name `source` and the line; they never quote a token.
  static Result<TokenStore> parse(std::string_view text, const std::string& source);
  static Result<TokenStore> load_file(const std::string& path);

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

  // The holder of `token`, or nullopt. Takes the same time for every token of a length.
  std::optional<Principal> authenticate(std::string_view token) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Entry {
    Digest digest;
    Principal principal;
  };
  static Digest digest_of(std::string_view token);

  std::vector<Entry> entries_;
};

}  // namespace brokerd::server
