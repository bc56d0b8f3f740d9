#include "auth/token_store.h"

#include <gtest/gtest.h>

namespace brokerd::server {
namespace {

TEST(TokenStoreTest, ParsesRolesNamesAndComments) {
  auto store = TokenStore::parse(
      "# comment\n\nadmin aaaaaaaaaaaaaaaa ops\n  producer bbbbbbbbbbbbbbbb web\nworker cccccccccccccccc\n", "tokens");
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(store->size(), 3u);
  auto admin = store->authenticate("aaaaaaaaaaaaaaaa");
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_EQ(admin->name, "ops");
  auto producer = store->authenticate("bbbbbbbbbbbbbbbb");
  ASSERT_TRUE(producer);
  EXPECT_EQ(producer->role, Role::kProducer);
  EXPECT_EQ(producer->name, "web");
  EXPECT_EQ(store->authenticate("cccccccccccccccc")->role, Role::kWorker);
  EXPECT_EQ(store->authenticate("cccccccccccccccc")->name, "worker-5");  // default: role and line
}

TEST(TokenStoreTest, UnknownAndNearMissTokensAreRejected) {
  auto store = TokenStore::parse("admin aaaaaaaaaaaaaaaa\n", "tokens");
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE(store->authenticate(""));
  EXPECT_FALSE(store->authenticate("aaaaaaaaaaaaaaab"));
  EXPECT_FALSE(store->authenticate("aaaaaaaaaaaaaaaaa"));
  EXPECT_FALSE(store->authenticate("aaaaaaaaaaaaaaa"));
}

TEST(TokenStoreTest, BadFilesAreRefusedWithTheLineButNeverTheToken) {
  struct Case {
    const char* text;
    const char* expected;
  };
  for (const Case& c : {Case{"root aaaaaaaaaaaaaaaa\n", "line 1: role 'root'"},
                        Case{"admin short\n", "line 1: the token is shorter than 16"},
                        Case{"producer aaaaaaaaaaaaaaaa\n", "line 1: a producer token needs a NAME"},
                        Case{"admin aaaaaaaaaaaaaaaa\nworker aaaaaaaaaaaaaaaa\n", "line 2: the token is listed twice"},
                        Case{"admin aaaaaaaaaaaaaaaa name extra\n", "line 1: expected ROLE TOKEN [NAME]"},
                        Case{"# nothing\n", "no tokens"}}) {
    auto store = TokenStore::parse(c.text, "tokens");
    ASSERT_FALSE(store.ok()) << c.text;
    EXPECT_NE(store.status().message().find(c.expected), std::string::npos) << store.status().message();
    EXPECT_EQ(store.status().message().find("aaaaaaaaaaaaaaaa"), std::string::npos);
  }
  EXPECT_FALSE(TokenStore::load_file("/nonexistent/tokens").ok());
}

TEST(AccessPolicyTest, EachRoleMayDoExactlyItsPart) {
  using Body = v1::Envelope::BodyCase;
  for (Role role : {Role::kProducer, Role::kWorker, Role::kAdmin}) {
    EXPECT_TRUE(role_allows(role, Body::kPing));
  }
  EXPECT_TRUE(role_allows(Role::kProducer, Body::kEnqueue));
  EXPECT_TRUE(role_allows(Role::kProducer, Body::kWaitResult));
  EXPECT_FALSE(role_allows(Role::kProducer, Body::kConsume));
  EXPECT_FALSE(role_allows(Role::kProducer, Body::kPurge));
  EXPECT_TRUE(role_allows(Role::kWorker, Body::kComplete));
  EXPECT_TRUE(role_allows(Role::kWorker, Body::kHeartbeat));
  EXPECT_TRUE(role_allows(Role::kWorker, Body::kRelease));
  EXPECT_FALSE(role_allows(Role::kProducer, Body::kRelease));
  EXPECT_FALSE(role_allows(Role::kWorker, Body::kEnqueue));
  EXPECT_FALSE(role_allows(Role::kWorker, Body::kGetTask));
  EXPECT_FALSE(role_allows(Role::kWorker, Body::kSubscribe));
  for (Body kind : {Body::kPurge, Body::kRevoke, Body::kListDead, Body::kGetServerStats, Body::kSubscribe}) {
    EXPECT_TRUE(role_allows(Role::kAdmin, kind));
  }
  EXPECT_EQ(parse_role("worker"), Role::kWorker);
  EXPECT_FALSE(parse_role("root"));
}

}  // namespace
}  // namespace brokerd::server
