// chunkvaultd's request pieces (src/server/): parameters as PBS's server
// reads them, tickets and CSRF tokens, and authentication by ticket or API
// token as PBS's clients send them.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "server/auth.h"
#include "server/http_message.h"
#include "server/server_config.h"
#include "support/tree_util.h"

namespace chunkvault::server {
namespace {

using ::chunkvault::testing::TempDir;

TEST(Params, FormEncodingWithRepeatsAndEscapes) {
  auto p = Params::ParseForm("a=1&b=x%20y+z&a=2&&flag&c=%2F%3A");
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ(*p->Find("a"), "1");
  EXPECT_EQ(*p->Find("b"), "x y z");
  EXPECT_EQ(*p->Find("flag"), "");
  EXPECT_EQ(*p->Find("c"), "/:");
  EXPECT_EQ(p->items().size(), 5u);
  for (const char* bad : {"a=%", "a=%2", "a=%zz", "a=%00"})
    EXPECT_FALSE(Params::ParseForm(bad).has_value()) << bad;
}

TEST(Params, TypedAccessNamesTheParameter) {
  auto p = Params::ParseForm("n=42&neg=-1&big=99999999999999999999&b=true&x=abc");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p->GetInt("n", 1, 100), 42);
  auto out = p->GetInt("n", 1, 10);
  ASSERT_FALSE(out.has_value());
  EXPECT_NE(out.error().message().find("'n'"), std::string::npos);
  EXPECT_FALSE(p->GetInt("neg", 0, 10).has_value());
  EXPECT_FALSE(p->GetInt("big", 0, INT64_MAX).has_value());
  EXPECT_FALSE(p->GetInt("x", 0, 10).has_value());
  auto missing = p->GetInt("nothere", 0, 10);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("missing"), std::string::npos);
  EXPECT_FALSE(p->GetOptionalInt("nothere", 0, 10)->has_value());
  EXPECT_TRUE(*p->GetBool("b", false));
  EXPECT_FALSE(*p->GetBool("nothere", false));
  EXPECT_FALSE(p->GetBool("x", false).has_value());
}

TEST(Params, JsonBodiesAndFormBodiesAsPbsReadsThem) {
  HttpRequest r;
  r.headers["content-type"] = "application/json";
  const std::string json = R"({"username":"a@pbs","n":3,"dry-run":true,"skip":null})";
  r.body.assign(json.begin(), json.end());
  r.query = *Params::ParseForm("ignored=1");
  auto p = ParamsOf(r);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ(*p->Find("username"), "a@pbs");
  EXPECT_EQ(*p->Find("n"), "3");
  EXPECT_EQ(*p->Find("dry-run"), "true");
  EXPECT_EQ(p->Find("ignored"), nullptr) << "a JSON body replaces the query";
  EXPECT_EQ(p->Find("skip"), nullptr);

  r.body.clear();
  EXPECT_TRUE(ParamsOf(r).has_value()) << "an empty JSON body is {}";
  for (const char* bad : {"[1]", "{\"a\":[1]}", "{\"a\":{}}", "{", "{\"a\":1.5}"}) {
    r.body.assign(bad, bad + std::strlen(bad));
    EXPECT_FALSE(ParamsOf(r).has_value()) << bad;
  }
  r.headers["content-type"] = "application/x-www-form-urlencoded";
  const std::string form = "b=2";
  r.body.assign(form.begin(), form.end());
  p = ParamsOf(r);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p->Find("b"), "2");
  EXPECT_EQ(*p->Find("ignored"), "1") << "a form body adds to the query";
  r.headers["content-type"] = "text/plain";
  EXPECT_FALSE(ParamsOf(r).has_value());
}

TEST(Tickets, SignedTimedAndBoundToTheirUser) {
  TicketKeys keys(Bytes(32, 7));
  TicketKeys other(Bytes(32, 8));
  auto alice = *AuthId::ParseUser("alice@pbs");
  auto bob = *AuthId::ParseUser("bob@pbs");
  const int64_t now = 1'800'000'000;
  const std::string ticket = keys.MakeTicket(alice, now);
  EXPECT_TRUE(ticket.starts_with("PBS:alice@pbs:"));
  EXPECT_NE(ticket.find("::"), std::string::npos);
  EXPECT_EQ(keys.CheckTicket(ticket, now), alice);
  EXPECT_EQ(keys.CheckTicket(ticket, now + kTicketLifetime), alice);
  EXPECT_FALSE(keys.CheckTicket(ticket, now + kTicketLifetime + 1)) << "expired";
  EXPECT_FALSE(keys.CheckTicket(ticket, now - kTicketClockSkew - 1)) << "from the future";
  EXPECT_FALSE(other.CheckTicket(ticket, now)) << "another key";
  std::string forged = ticket;
  forged.replace(4, 5, "bob@p");
  EXPECT_FALSE(keys.CheckTicket(forged, now));
  for (const char* bad : {"", "PBS:", "PBS:alice@pbs:XYZ::sig", "junk"})
    EXPECT_FALSE(keys.CheckTicket(bad, now)) << bad;

  const std::string csrf = keys.MakeCsrfToken(alice, now);
  EXPECT_TRUE(keys.CheckCsrfToken(csrf, alice, now));
  EXPECT_FALSE(keys.CheckCsrfToken(csrf, bob, now));
  EXPECT_FALSE(keys.CheckCsrfToken(csrf, alice, now + kTicketLifetime + 1));
  EXPECT_FALSE(other.CheckCsrfToken(csrf, alice, now));
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConfigDir dir(*Env::Default(), tmp_.path());
    ASSERT_TRUE(dir.AddUser(*AuthId::Parse("alice@pbs"), "pw"));
    secret_ = *dir.AddToken(*AuthId::Parse("alice@pbs!t"));
    auto keys = TicketKeys::LoadOrCreate(*Env::Default(), tmp_ / "authkey.key");
    ASSERT_TRUE(keys.has_value());
    auth_ = std::make_unique<Authenticator>(std::move(*keys));
    config_ = *dir.Load();
  }
  HttpRequest Request(const std::string& method) {
    HttpRequest r;
    r.method = method;
    return r;
  }
  TempDir tmp_;
  std::string secret_;
  std::unique_ptr<Authenticator> auth_;
  ServerConfig config_;
  const int64_t now_ = 1'800'000'000;
};

TEST_F(AuthenticatorTest, ApiTokensAsPbsClientsSendThem) {
  for (const char* sep : {" ", "="}) {
    HttpRequest r = Request("GET");
    r.headers["authorization"] = std::string("PBSAPIToken") + sep + "alice@pbs!t:" + secret_;
    auto who = auth_->Authenticate(r, config_, now_);
    ASSERT_TRUE(who.has_value()) << sep;
    EXPECT_EQ(who->ToString(), "alice@pbs!t");
    // The second check of the same secret is remembered (no yescrypt).
    EXPECT_TRUE(auth_->Authenticate(r, config_, now_).has_value());
  }
  for (const std::string& bad : std::vector<std::string>{
           "PBSAPIToken alice@pbs!t:wrong", "PBSAPIToken alice@pbs!t:", "PBSAPIToken alice@pbs:pw",
        "PBSAPITokenalice@pbs!t:" + secret_, "Bearer " + secret_,
        "PBSAPIToken alice@pbs!u:" + secret_}) {
    HttpRequest r = Request("GET");
    r.headers["authorization"] = bad;
    auto who = auth_->Authenticate(r, config_, now_);
    ASSERT_FALSE(who.has_value()) << bad;
    EXPECT_EQ(who.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_EQ(who.error().message().find(secret_), std::string::npos);
  }
  EXPECT_FALSE(auth_->Authenticate(Request("GET"), config_, now_).has_value());
}

TEST_F(AuthenticatorTest, TicketsFromLoginNeedCsrfTokensBeyondGet) {
  EXPECT_FALSE(auth_->LogIn("alice@pbs", "wrong", config_, now_).has_value());
  EXPECT_FALSE(auth_->LogIn("nobody@pbs", "pw", config_, now_).has_value());
  auto login = auth_->LogIn("alice@pbs", "pw", config_, now_);
  ASSERT_TRUE(login.has_value());
  // A ticket is also a password for its user (PBS's ticket refresh).
  EXPECT_TRUE(auth_->LogIn("alice@pbs", login->ticket, config_, now_ + 60).has_value());

  HttpRequest get = Request("GET");
  get.headers["cookie"] = "other=1; PBSAuthCookie=" + login->ticket;
  EXPECT_EQ(auth_->Authenticate(get, config_, now_)->ToString(), "alice@pbs");
  HttpRequest post = Request("POST");
  post.headers["cookie"] = "__Host-PBSAuthCookie=" + login->ticket;
  EXPECT_FALSE(auth_->Authenticate(post, config_, now_).has_value()) << "no CSRF token";
  post.headers["csrfpreventiontoken"] = login->csrf_token;
  EXPECT_TRUE(auth_->Authenticate(post, config_, now_).has_value());
  HttpRequest stale = get;
  EXPECT_FALSE(auth_->Authenticate(stale, config_, now_ + kTicketLifetime + 1).has_value());
}

TEST(TicketKeys, MadeOnce0600AndRefusedWhenDamaged) {
  TempDir tmp;
  const std::string path = tmp / "authkey.key";
  auto a = TicketKeys::LoadOrCreate(*Env::Default(), path);
  auto b = TicketKeys::LoadOrCreate(*Env::Default(), path);
  ASSERT_TRUE(a.has_value() && b.has_value());
  auto alice = *AuthId::ParseUser("alice@pbs");
  EXPECT_TRUE(b->CheckTicket(a->MakeTicket(alice, 100), 100)) << "the same key";
  std::ofstream(path) << "short";
  auto bad = TicketKeys::LoadOrCreate(*Env::Default(), path);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace chunkvault::server
