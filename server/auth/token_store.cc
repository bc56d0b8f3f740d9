#include "auth/token_store.h"

#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace brokerd::server {

TokenStore::Digest TokenStore::digest_of(std::string_view token) {
  Digest digest{};
  unsigned int length = 0;
  EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

Result<TokenStore> TokenStore::parse(std::string_view text, const std::string& source) {
  TokenStore store;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    const std::string where = source + " line " + std::to_string(number) + ": ";
    std::istringstream fields(line);
    std::string role_text, token, name, extra;
    fields >> role_text;
    if (role_text.empty() || role_text[0] == '#') continue;
    fields >> token >> name >> extra;
    if (!extra.empty()) return Status::InvalidArgument(where + "expected ROLE TOKEN [NAME], found more fields");
    std::optional<Role> role = parse_role(role_text);
    if (!role) {
      return Status::InvalidArgument(where + "role '" + role_text + "' is not producer, worker or admin");
    }
    if (token.size() < kMinTokenLength) {
      return Status::InvalidArgument(where + "the token is shorter than " + std::to_string(kMinTokenLength) +
                                     " characters");
    }
    for (unsigned char c : token) {
      if (c < 0x21 || c > 0x7e) return Status::InvalidArgument(where + "the token has a non-printable character");
    }
    const Digest digest = digest_of(token);
    for (const Entry& entry : store.entries_) {
      if (entry.digest == digest) return Status::InvalidArgument(where + "the token is listed twice");
    }
    if (name.empty()) {
      // A producer's name owns its tasks, so it must not depend on where its line is.
      if (*role == Role::kProducer) return Status::InvalidArgument(where + "a producer token needs a NAME");
      name = role_text + "-" + std::to_string(number);
    }
    store.entries_.push_back({digest, Principal{name, *role}});
  }
  if (store.entries_.empty()) return Status::InvalidArgument(source + ": no tokens (expected ROLE TOKEN [NAME] lines)");
  return store;
}

Result<TokenStore> TokenStore::load_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) return Status::InvalidArgument("cannot read auth_tokens_file " + path);
  std::ostringstream text;
  text << file.rdbuf();
  return parse(text.str(), path);
}

std::optional<Principal> TokenStore::authenticate(std::string_view token) const {
  const Digest presented = digest_of(token);
  const Entry* match = nullptr;
  // Every entry is compared, matched or not, with a comparison whose time does not
  // depend on where the digests differ.
  for (const Entry& entry : entries_) {
    const bool equal = CRYPTO_memcmp(entry.digest.data(), presented.data(), presented.size()) == 0;
    if (equal) match = &entry;
  }
  if (match == nullptr) return std::nullopt;
  return match->principal;
}

}  // namespace brokerd::server
