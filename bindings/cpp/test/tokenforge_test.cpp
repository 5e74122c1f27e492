// GoogleTest tests of tokenforge.hpp against the real shared library and the loopback token
// server (target/release/tokenforge-testserver), which a global environment starts on a
// free port for each test process and stops at the end.
#include "tokenforge.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tf = tokenforge;
using tf::ErrorCode;

namespace tokenforge {
// Failure messages name the code ("OAUTH") instead of dumping bytes.
void PrintTo(ErrorCode code, std::ostream *os) { *os << tokenforge_result_name(static_cast<tokenforge_result>(code)); }
}  // namespace tokenforge

namespace {

std::string g_url;      // http://127.0.0.1:PORT of the test server
std::string g_tls_url;  // https://127.0.0.1:PORT of its HTTPS twin
std::string g_ca_file;  // the test CA that issued the HTTPS twin's certificate

// Starts tokenforge-testserver with --port-file in a temporary directory; kills it at the end
// (and, through PR_SET_PDEATHSIG, if this process dies first).
class TestServer : public ::testing::Environment {
 public:
  void SetUp() override {
    char dir[] = "/tmp/tokenforge-cpp-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    const std::string port_file = dir_ + "/port";
    const std::string tls_dir = dir_ + "/tls";
    ASSERT_EQ(mkdir(tls_dir.c_str(), 0700), 0);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      freopen("/dev/null", "w", stdout);  // its PORT= line
      execl(TOKENFORGE_TESTSERVER, TOKENFORGE_TESTSERVER, "--port-file", port_file.c_str(), "--tls-dir",
            tls_dir.c_str(), "--max-seconds", "600", static_cast<char *>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      std::ifstream in(port_file), tls_in(tls_dir + "/port");
      int port = 0, tls_port = 0;
      if (in >> port && port > 0 && tls_in >> tls_port && tls_port > 0) {
        g_url = "http://127.0.0.1:" + std::to_string(port);
        g_tls_url = "https://127.0.0.1:" + std::to_string(tls_port);
        g_ca_file = tls_dir + "/ca.pem";
        return;
      }
      ASSERT_EQ(waitpid(pid_, nullptr, WNOHANG), 0) << "tokenforge-testserver exited";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "tokenforge-testserver did not write " << port_file;
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

 private:
  pid_t pid_ = -1;
  std::string dir_;
};

// The Error that `f` throws; a test failure when it throws none.
template <class F>
tf::Error error_of(F &&f) {
  try {
    f();
  } catch (const tf::Error &e) {
    return e;
  }
  ADD_FAILURE() << "no tokenforge::Error was thrown";
  return tf::Error(ErrorCode::Ok, "nothing thrown");
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

bool starts_with(const std::string &s, const std::string &prefix) { return s.rfind(prefix, 0) == 0; }

// How many requests the server has had on `path`.
long server_count(const std::string &path) {
  tf::Token t = tf::FetcherBuilder::body("count", g_url, "/_count" + path).build().fetch();
  return std::stol(t.extra("count").value_or("-1"));
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// user needs device (a header token) and app (client_credentials), as in tests/c.
std::string three_steps() {
  return R"({"steps":[
    {"name":"user","kind":"body","base_url":")" + g_url + R"(","endpoint":"/user/auth",
     "depends_on":["device","app"],
     "request_headers":{"X-Device-Token":"{{device.access_token}}","Authorization":"{{app.authorization}}"}},
    {"name":"device","kind":"header","base_url":")" + g_url + R"(","endpoint":"/device/register",
     "request_headers":{"X-Device-ID":"d"},"token_header":"X-Device-Token"},
    {"name":"app","kind":"client_credentials","token_url":")" + g_url + R"(/oauth/token",
     "client_id":"c","client_secret":"c-secret"}]})";
}

// A thread-safe map of tokens, for custom storage.
struct TokenMap {
  std::mutex m;
  std::map<std::string, tf::Token> tokens;

  void put(const std::string &key, const tf::Token &t) {
    std::lock_guard<std::mutex> lock(m);
    tokens.insert_or_assign(key, t);
  }
  std::optional<tf::Token> find(const std::string &key) {
    std::lock_guard<std::mutex> lock(m);
    auto it = tokens.find(key);
    return it == tokens.end() ? std::nullopt : std::optional<tf::Token>(it->second);
  }
  void erase(const std::string &key) {
    std::lock_guard<std::mutex> lock(m);
    tokens.erase(key);
  }
};

class MapStorage : public tf::StorageBackend {
 public:
  void store(const std::string &key, const tf::Token &token) override {
    if (fail_store) throw tf::Error(ErrorCode::Storage, "disk full");
    map.put(key, token);
  }
  std::optional<tf::Token> retrieve(const std::string &key) override { return map.find(key); }
  void remove(const std::string &key) override { map.erase(key); }

  std::atomic<bool> fail_store{false};
  TokenMap map;
};

}  // namespace

// ---- Token, Context, Error ----

TEST(Version, IsMajorMinorPatch) {
  const std::string v = tf::version();
  EXPECT_EQ(std::count(v.begin(), v.end(), '.'), 2) << v;
}

TEST(Token, MadeTokenHasItsFields) {
  tf::Token t("abc", "", 1234, std::string("rt-1"));
  EXPECT_EQ(t.access_token(), "abc");
  EXPECT_EQ(t.token_type(), "Bearer");
  EXPECT_EQ(t.authorization(), "Bearer abc");
  EXPECT_EQ(t.expires_at_ms(), 1234);
  EXPECT_EQ(t.refresh_token(), "rt-1");
  EXPECT_FALSE(t.scope());
  EXPECT_FALSE(t.extra("id_token"));
  EXPECT_TRUE(t.is_expired());

  tf::Token forever("xyz", "MAC");
  EXPECT_EQ(forever.authorization(), "MAC xyz");
  EXPECT_FALSE(forever.expires_at_ms());
  EXPECT_FALSE(forever.refresh_token());
  EXPECT_FALSE(forever.is_expired(1'000'000'000));

  tf::Token later("l", "", now_ms() + 60'000);
  EXPECT_FALSE(later.is_expired(1'000));
  EXPECT_TRUE(later.is_expired(120'000));
}

TEST(Token, RefusesBadValues) {
  EXPECT_EQ(error_of([] { tf::Token(""); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([] { tf::Token("a\r\nb"); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([] { tf::Token("a", "Bea\rrer"); }).code(), ErrorCode::InvalidArgument);
}

TEST(Token, CopiesShareAndMovesEmpty) {
  tf::Token a("abc");
  tf::Token b = a;
  EXPECT_EQ(b.access_token(), "abc");
  EXPECT_NE(b.capi(), nullptr);

  tf::Token c = std::move(a);
  EXPECT_EQ(a.capi(), nullptr);  // moved-from: empty, safe to use and destroy
  EXPECT_EQ(a.access_token(), "");
  EXPECT_EQ(a.authorization(), "");
  EXPECT_TRUE(a.is_expired());
  EXPECT_FALSE(a.refresh_token());
  EXPECT_EQ(c.access_token(), "abc");

  a = b;  // copy into an empty token
  EXPECT_EQ(a.access_token(), "abc");
  const tf::Token &alias = a;
  a = alias;  // self-assignment keeps the token
  EXPECT_EQ(a.access_token(), "abc");
  b = std::move(c);
  EXPECT_EQ(c.capi(), nullptr);
  EXPECT_EQ(b.access_token(), "abc");
  tf::Token empty = std::move(c);  // moving an empty token
  EXPECT_EQ(empty.capi(), nullptr);
}

TEST(Context, SetGetSizeAndMove) {
  tf::Context ctx;
  EXPECT_EQ(ctx.size(), 0u);
  ctx.set("app", tf::Token("a1"));
  ctx.set("app", tf::Token("a2"));
  ctx.set("device", tf::Token("d1"));
  EXPECT_EQ(ctx.size(), 2u);
  ASSERT_TRUE(ctx.get("app"));
  EXPECT_EQ(ctx.get("app")->access_token(), "a2");
  EXPECT_FALSE(ctx.get("absent"));

  tf::Context moved = std::move(ctx);
  EXPECT_EQ(ctx.capi(), nullptr);
  EXPECT_EQ(ctx.size(), 0u);
  EXPECT_FALSE(ctx.get("app"));
  EXPECT_EQ(error_of([&] { ctx.set("x", tf::Token("t")); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(moved.size(), 2u);

  std::optional<tf::Token> kept = moved.get("device");
  { tf::Context gone = std::move(moved); }
  EXPECT_EQ(kept->access_token(), "d1");  // a token taken from a context outlives it
}

TEST(Error, MadeErrorHasCodeAndMessageOnly) {
  const tf::Error e(ErrorCode::Timeout, "too slow");
  EXPECT_EQ(e.code(), ErrorCode::Timeout);
  EXPECT_STREQ(e.what(), "too slow");
  EXPECT_FALSE(e.http_status());
  EXPECT_FALSE(e.step());
  EXPECT_FALSE(e.oauth_error());
  EXPECT_FALSE(e.retry_after_ms());
  EXPECT_FALSE(e.retryable());
  const std::runtime_error &base = e;  // catchable as a standard exception
  EXPECT_STREQ(base.what(), "too slow");
}

TEST(Error, OAuthFailureFields) {
  tf::Fetcher f = tf::FetcherBuilder::client_credentials("cc", g_url + "/oauth/token", "c", "wrong-secret").build();
  const tf::Error e = error_of([&] { f.fetch(); });
  EXPECT_EQ(e.code(), ErrorCode::OAuth);
  EXPECT_EQ(e.http_status(), 401);
  EXPECT_EQ(e.oauth_error(), "invalid_client");
  EXPECT_EQ(e.oauth_description(), "client authentication failed");
  EXPECT_EQ(e.step(), "cc");
  EXPECT_FALSE(e.retry_after_ms());
  EXPECT_FALSE(e.retryable());
  EXPECT_FALSE(std::string(e.what()).empty());
  EXPECT_FALSE(contains(e.what(), "wrong-secret"));
}

TEST(Error, HttpStatusFailureFields) {
  tf::Fetcher missing = tf::FetcherBuilder::body("missing", g_url, "/status/404").build();
  tf::Error e = error_of([&] { missing.fetch(); });
  EXPECT_EQ(e.code(), ErrorCode::HttpStatus);
  EXPECT_EQ(e.http_status(), 404);
  EXPECT_EQ(e.step(), "missing");
  EXPECT_FALSE(e.oauth_error());
  EXPECT_FALSE(e.oauth_description());
  EXPECT_FALSE(e.retryable());

  tf::Fetcher limited = tf::FetcherBuilder::body("limited", g_url, "/ratelimit/cpp/7").set_retry(1, 0).build();
  e = error_of([&] { limited.fetch(); });
  EXPECT_EQ(e.code(), ErrorCode::HttpStatus);
  EXPECT_EQ(e.http_status(), 429);
  EXPECT_EQ(e.retry_after_ms(), 7000);
  EXPECT_TRUE(e.retryable());
  EXPECT_TRUE(starts_with(limited.fetch().access_token(), "rl-"));  // the second request passes
}

// ---- FetcherBuilder and Fetcher ----

TEST(Fetcher, BodyFetchSendsTheOptions) {
  tf::Fetcher f = tf::FetcherBuilder::body("echo", g_url, "/echo")
                      .add_request_header("X-Static", "one")
                      .add_request_data("username", "u")
                      .add_query_param("q", "1")
                      .set_content_type(tf::ContentType::Json)
                      .build();
  tf::Token t = f.fetch();
  EXPECT_EQ(t.access_token(), "echo-token");
  EXPECT_EQ(t.extra("method"), "POST");
  EXPECT_EQ(t.extra("header.x-static"), "one");
  EXPECT_EQ(t.extra("query"), "q=1");
  EXPECT_EQ(t.extra("content_type"), "application/json");
  EXPECT_EQ(t.extra("body"), R"({"username":"u"})");
  ASSERT_TRUE(t.expires_at_ms());
  EXPECT_GT(*t.expires_at_ms(), now_ms() + 3'500'000);  // expires_in 3600 s

  tf::Token get = tf::FetcherBuilder::body("get", g_url, "/echo").set_method("get").add_request_data("a", "b").build().fetch();
  EXPECT_EQ(get.extra("method"), "GET");
  EXPECT_EQ(get.extra("query"), "a=b");
}

TEST(Fetcher, HeaderFetchReadsTheResponseHeader) {
  tf::Fetcher f = tf::FetcherBuilder::header("hdr", g_url, "/header-token").set_token_header("X-Auth-Token").build();
  tf::Token t = f.fetch();
  EXPECT_TRUE(starts_with(t.access_token(), "hdr-")) << t.access_token();
  EXPECT_EQ(t.token_type(), "Bearer");
  EXPECT_EQ(t.authorization(), "Bearer " + t.access_token());
}

TEST(Fetcher, ClientCredentialsFetchAndRefresh) {
  tf::Token t =
      tf::FetcherBuilder::client_credentials("cc", g_url + "/oauth/token", "c", "c-secret", std::string("read offline"))
          .build()
          .fetch();
  EXPECT_TRUE(starts_with(t.access_token(), "cc-")) << t.access_token();
  EXPECT_EQ(t.token_type(), "Bearer");
  EXPECT_EQ(t.scope(), "read offline");
  EXPECT_EQ(t.extra("client_auth"), "basic");
  ASSERT_TRUE(t.refresh_token());

  tf::Token in_body = tf::FetcherBuilder::client_credentials("cc", g_url + "/oauth/token", "c", "c-secret")
                          .set_client_auth_in_body(true)
                          .build()
                          .fetch();
  EXPECT_EQ(in_body.extra("client_auth"), "body");
  EXPECT_FALSE(in_body.scope());
  EXPECT_FALSE(in_body.refresh_token());

  tf::Token renewed = tf::oauth2_refresh(g_url + "/oauth/token", *t.refresh_token(), "c", std::string("c-secret"));
  EXPECT_TRUE(starts_with(renewed.access_token(), "rf-")) << renewed.access_token();
  ASSERT_TRUE(renewed.refresh_token());
  EXPECT_NE(renewed.refresh_token(), t.refresh_token());  // rotated
  const tf::Error e = error_of([&] { tf::oauth2_refresh(g_url + "/oauth/token", *t.refresh_token(), "c", std::string("c-secret")); });
  EXPECT_EQ(e.code(), ErrorCode::OAuth);
  EXPECT_EQ(e.oauth_error(), "invalid_grant");
}

TEST(FetcherBuilder, SettersRefuseBadValuesAndStayUsable) {
  auto code = [](auto &&f) { return error_of(f).code(); };
  tf::FetcherBuilder b = tf::FetcherBuilder::body("b", g_url, "/echo");
  const tf::Error e = error_of([&] { b.set_method("PUT"); });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_TRUE(contains(e.what(), "set_method")) << e.what();
  EXPECT_EQ(code([&] { b.add_request_header("bad name", "v"); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.add_request_header("X-Ok", "a\r\nb"); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.add_request_data("", "v"); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.add_query_param("", "v"); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_content_type(static_cast<tf::ContentType>(7)); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_token_field(""); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_default_token_type("a\nb"); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_token_header("X-Token"); }), ErrorCode::InvalidArgument);  // header builders only
  EXPECT_EQ(code([&] { b.set_token_type("Bearer"); }), ErrorCode::InvalidArgument);     // header builders only
  EXPECT_EQ(code([&] { b.set_basic_auth("a:b", "p"); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_client_auth("client_secret_magic"); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_ttl_ms(0); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_timeout_ms(0); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_retry(0, 10); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_retry(11, 10); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_retry(3, 60'001); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.add_dependency(""); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { b.set_refresh_endpoint("not a url", "c"); }), ErrorCode::InvalidArgument);
  // Accepted values, then a working fetcher: the refusals left the builder as it was.
  b.set_method("POST").set_timeout_ms(5'000).set_retry(2, 10).set_verify_tls(true).set_ttl_ms(60'000);
  b.set_token_field("access_token").set_token_type_field("token_type").set_expires_in_field("expires_in");
  b.set_refresh_token_field("refresh_token").set_default_token_type("Bearer").set_basic_auth("user", "pw");
  tf::Token t = b.build().fetch();
  EXPECT_EQ(t.access_token(), "echo-token");
  EXPECT_TRUE(starts_with(t.extra("header.authorization").value_or(""), "Basic "));

  tf::FetcherBuilder h = tf::FetcherBuilder::header("h", g_url, "/header-token");
  EXPECT_EQ(code([&] { h.set_token_field("token"); }), ErrorCode::InvalidArgument);  // body builders only
  EXPECT_EQ(code([&] { h.set_token_header("bad header"); }), ErrorCode::InvalidArgument);
  tf::FetcherBuilder cc = tf::FetcherBuilder::client_credentials("cc", g_url + "/oauth/token", "c", "c-secret");
  EXPECT_EQ(code([&] { cc.set_method("GET"); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code([&] { cc.set_content_type(tf::ContentType::Json); }), ErrorCode::InvalidArgument);

  EXPECT_EQ(code([] { tf::FetcherBuilder::body("\xff", g_url, "/echo"); }), ErrorCode::InvalidArgument);
}

TEST(FetcherBuilder, BuildErrorsAndConsumption) {
  const tf::Error bad_url = error_of([] { tf::FetcherBuilder::body("x", "not a url", "/").build(); });
  EXPECT_EQ(bad_url.code(), ErrorCode::InvalidArgument);
  EXPECT_FALSE(std::string(bad_url.what()).empty());
  EXPECT_EQ(error_of([] {
              tf::FetcherBuilder::body("x", g_url, "/echo").add_request_header("X-T", "{{other.access_token}}").build();
            }).code(),
            ErrorCode::Config);
  EXPECT_EQ(error_of([] { tf::FetcherBuilder::body("x", g_url, "/echo").add_dependency("x").build(); }).code(),
            ErrorCode::Config);

  tf::FetcherBuilder b = tf::FetcherBuilder::body("once", g_url, "/echo");
  tf::Fetcher f = b.build();
  EXPECT_EQ(b.capi(), nullptr);  // consumed
  EXPECT_EQ(error_of([&] { b.build(); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { b.set_method("GET"); }).code(), ErrorCode::InvalidArgument);
  tf::FetcherBuilder failed = tf::FetcherBuilder::body("x", "not a url", "/");
  EXPECT_THROW(failed.build(), tf::Error);
  EXPECT_EQ(failed.capi(), nullptr);  // consumed even on failure
}

TEST(Fetcher, NameDependenciesAndMissingContext) {
  tf::Fetcher f = tf::FetcherBuilder::body("user", g_url, "/echo")
                      .add_dependency("device")
                      .add_dependency("app")
                      .add_dependency("device")
                      .add_request_header("X-Device", "{{device.access_token}}")
                      .build();
  EXPECT_EQ(f.name(), "user");
  EXPECT_EQ(f.dependencies(), (std::vector<std::string>{"device", "app"}));
  const tf::Error e = error_of([&] { f.fetch(); });
  EXPECT_EQ(e.code(), ErrorCode::Dependency);
  EXPECT_EQ(e.step(), "user");

  tf::Context ctx;
  ctx.set("device", tf::Token("d1"));
  ctx.set("app", tf::Token("a1"));
  EXPECT_EQ(f.fetch(&ctx).extra("header.x-device"), "d1");
}

TEST(MoveSemantics, MovedFromObjectsAreEmptyAndSafe) {
  auto probe = std::make_shared<int>(0);
  tf::Fetcher f = tf::FetcherBuilder::body("a", g_url, "/echo").set_request_hook([probe](const tf::Context *, tf::Request &) {}).build();
  tf::Fetcher g = std::move(f);
  EXPECT_EQ(f.capi(), nullptr);
  EXPECT_EQ(f.name(), "");
  EXPECT_TRUE(f.dependencies().empty());
  EXPECT_EQ(error_of([&] { f.fetch(); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(g.name(), "a");
  EXPECT_EQ(probe.use_count(), 2);
  g = tf::FetcherBuilder::body("b", g_url, "/echo").build();  // move-assignment frees the old fetcher
  EXPECT_EQ(probe.use_count(), 1);
  EXPECT_EQ(g.name(), "b");

  tf::FetcherBuilder b = tf::FetcherBuilder::body("a", g_url, "/echo");
  tf::FetcherBuilder b2 = std::move(b);
  EXPECT_EQ(b.capi(), nullptr);
  EXPECT_EQ(error_of([&] { b.add_request_header("X-A", "1"); }).code(), ErrorCode::InvalidArgument);
  EXPECT_NE(b2.capi(), nullptr);

  tf::Pipeline p = tf::Pipeline::from_json(three_steps());
  tf::Pipeline p2 = std::move(p);
  EXPECT_EQ(p.capi(), nullptr);
  EXPECT_EQ(error_of([&] { p.get("user"); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { p.add(g); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { p.invalidate("user"); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { p.validate(); }).code(), ErrorCode::InvalidArgument);
  EXPECT_TRUE(starts_with(p2.get("user").access_token(), "user-"));

  tf::Storage s = tf::Storage::memory();
  tf::Storage s2 = std::move(s);
  EXPECT_EQ(s.capi(), nullptr);
  EXPECT_EQ(error_of([&] { s.store("k", tf::Token("v")); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { p2.set_storage(s); }).code(), ErrorCode::InvalidArgument);
  s2.store("k", tf::Token("v"));
  EXPECT_EQ(s2.retrieve("k")->access_token(), "v");
}

// ---- request hooks ----

TEST(RequestHook, LambdaChangesTheRequest) {
  std::atomic<int> calls{0};
  tf::Fetcher f = tf::FetcherBuilder::body("user", g_url, "/echo")
                      .add_request_header("X-Static", "1")
                      .add_request_data("secret", "s")
                      .add_request_data("username", "u")
                      .set_request_hook([&calls](const tf::Context *ctx, tf::Request &req) {
                        ++calls;
                        EXPECT_EQ(req.method(), "POST");
                        EXPECT_TRUE(contains(req.url(), "/echo")) << req.url();
                        EXPECT_EQ(req.header("x-static"), "1");
                        EXPECT_FALSE(req.header("X-Missing"));
                        EXPECT_EQ(error_of([&] { req.set_header("X-Bad", "a\r\nb"); }).code(), ErrorCode::InvalidArgument);
                        EXPECT_EQ(error_of([&] { req.set_data("", "v"); }).code(), ErrorCode::InvalidArgument);
                        req.remove_header("X-Static");
                        if (ctx) {
                          const std::string app = ctx->get("app").value_or(tf::Token("none")).access_token();
                          req.set_header("X-App-Token", app);
                          req.set_data("app_token", app);
                        }
                        req.remove_data("secret");
                        req.set_query("hooked", ctx ? "ctx" : "none");
                      })
                      .build();

  tf::Context ctx;
  ctx.set("app", tf::Token("app-7"));
  tf::Token t = f.fetch(&ctx);
  EXPECT_EQ(t.extra("header.x-app-token"), "app-7");
  EXPECT_FALSE(t.extra("header.x-static"));
  EXPECT_EQ(t.extra("body"), "username=u&app_token=app-7");
  EXPECT_EQ(t.extra("query"), "hooked=ctx");

  t = f.fetch();  // no context: the hook gets NULL
  EXPECT_EQ(t.extra("body"), "username=u");
  EXPECT_EQ(t.extra("query"), "hooked=none");
  EXPECT_EQ(calls, 2);
}

TEST(RequestHook, SetsARawBody) {
  tf::Fetcher f = tf::FetcherBuilder::body("raw", g_url, "/echo")
                      .set_request_hook([](const tf::Context *, tf::Request &req) {
                        req.set_body("<auth user=\"u\"/>", std::string("application/xml"));
                      })
                      .build();
  tf::Token t = f.fetch();
  EXPECT_EQ(t.extra("body"), "<auth user=\"u\"/>");
  EXPECT_EQ(t.extra("content_type"), "application/xml");
}

template <class Hook>
void expect_hook_failure(Hook hook, ErrorCode code, const std::string &message) {
  tf::Fetcher f = tf::FetcherBuilder::body("thrower", g_url, "/echo").set_request_hook(hook).build();
  const long before = server_count("/echo");
  const tf::Error e = error_of([&] { f.fetch(); });
  EXPECT_EQ(e.code(), code);
  EXPECT_EQ(std::string(e.what()), message);
  EXPECT_EQ(e.step(), "thrower");
  EXPECT_EQ(server_count("/echo"), before);  // nothing was sent
}

// A throwing hook refuses the request with the exception's code and message.
TEST(RequestHook, ExceptionsRefuseWithTheirCodeAndMessage) {
  expect_hook_failure([](const tf::Context *, tf::Request &) { throw std::runtime_error("hook failed"); },
                      ErrorCode::Callback, "hook failed");
  expect_hook_failure([](const tf::Context *, tf::Request &) { throw tf::Error(ErrorCode::OAuth, "hook said no"); },
                      ErrorCode::OAuth, "hook said no");
  expect_hook_failure(
      [](const tf::Context *, tf::Request &) { throw tf::Error(ErrorCode::Ok, "an OK error still fails"); },
      ErrorCode::Callback, "an OK error still fails");
  expect_hook_failure([](const tf::Context *, tf::Request &) { throw 42; }, ErrorCode::Callback,
                      "a C++ callback threw a non-standard exception");
}

// The same on a library thread: two dependencies fetched in parallel, one of them refused by
// its hook, reach the pipeline's caller with the hook's code and message.
TEST(RequestHook, RefusalFromALibraryThreadReachesThePipelineCaller) {
  tf::Pipeline p;
  auto dep = [](const std::string &name, bool refuse) {
    tf::FetcherBuilder b = tf::FetcherBuilder::body(name, g_url, "/slow/50");
    if (refuse) b.set_request_hook([](const tf::Context *, tf::Request &) { throw tf::Error(ErrorCode::OAuth, "no"); });
    return b.build();
  };
  p.add(dep("left", false));
  p.add(dep("right", true));
  p.add(tf::FetcherBuilder::body("top", g_url, "/echo").add_dependency("left").add_dependency("right").build());
  const tf::Error direct = error_of([&] { p.get("right"); });
  EXPECT_EQ(direct.code(), ErrorCode::OAuth);
  EXPECT_EQ(std::string(direct.what()), "no");
  p.invalidate("right");  // ends the step's memory of the failure
  const tf::Error derived = error_of([&] { p.get("top"); });
  EXPECT_EQ(derived.code(), ErrorCode::Dependency);
  EXPECT_NE(std::string(derived.what()).find("no"), std::string::npos) << derived.what();
}

// ---- custom fetchers ----

TEST(CustomFetcher, LambdaReturnsAToken) {
  std::atomic<int> calls{0};
  tf::Fetcher f = tf::Fetcher::custom(
      "custom",
      [&calls](const tf::Context *ctx) {
        ++calls;
        if (!ctx) throw tf::Error(ErrorCode::Dependency, "no context");
        return tf::Token("custom-" + ctx->get("device").value().access_token(), "Custom");
      },
      {"device"}, 3'600'000);
  EXPECT_EQ(f.name(), "custom");
  EXPECT_EQ(f.dependencies(), std::vector<std::string>{"device"});

  tf::Context ctx;
  ctx.set("device", tf::Token("d1"));
  tf::Token t = f.fetch(&ctx);
  EXPECT_EQ(t.authorization(), "Custom custom-d1");
  ASSERT_TRUE(t.expires_at_ms());  // the TTL applies
  EXPECT_GT(*t.expires_at_ms(), now_ms() + 3'500'000);

  EXPECT_EQ(error_of([&] { f.fetch(); }).code(), ErrorCode::Dependency);  // refused before the call
  EXPECT_EQ(calls, 1);

  EXPECT_EQ(tf::Fetcher::custom("plain", [](const tf::Context *) { return tf::Token("p"); }).fetch().access_token(), "p");
}

TEST(CustomFetcher, ThrownErrorsReachTheCaller) {
  std::atomic<int> mode{0};
  tf::Fetcher f = tf::Fetcher::custom("custom", [&mode](const tf::Context *) -> tf::Token {
    switch (mode.load()) {
      case 0: throw tf::Error(ErrorCode::OAuth, "proprietary auth said no");
      case 1: throw std::runtime_error("backend down");
      case 2: throw 42;
      case 3: throw tf::Error(ErrorCode::Ok, "not a failure code");
      default: return tf::Token(static_cast<tokenforge_token *>(nullptr));  // an empty token
    }
  });

  tf::Error e = error_of([&] { f.fetch(); });
  EXPECT_EQ(e.code(), ErrorCode::OAuth);  // the code and message reach the caller unchanged
  EXPECT_STREQ(e.what(), "proprietary auth said no");
  EXPECT_EQ(e.step(), "custom");

  mode = 1;
  e = error_of([&] { f.fetch(); });
  EXPECT_EQ(e.code(), ErrorCode::Callback);
  EXPECT_TRUE(contains(e.what(), "backend down")) << e.what();

  for (int m : {2, 3, 4}) {
    mode = m;
    e = error_of([&] { f.fetch(); });
    EXPECT_EQ(e.code(), ErrorCode::Callback) << "mode " << m;
    EXPECT_FALSE(std::string(e.what()).empty());
  }
}

// ---- error and event hooks ----

TEST(ErrorHook, CalledOncePerFailureWithErrorAndContext) {
  int calls = 0;
  std::optional<tf::Error> seen;
  std::optional<std::size_t> context_size;
  tf::Fetcher f = tf::FetcherBuilder::body("missing", g_url, "/status/404")
                      .set_error_hook([&](const tf::Error &e, const tf::Context *ctx) {
                        ++calls;
                        seen = e;
                        context_size = ctx ? std::optional<std::size_t>(ctx->size()) : std::nullopt;
                      })
                      .build();
  tf::Context ctx;
  ctx.set("x", tf::Token("t"));
  EXPECT_EQ(error_of([&] { f.fetch(&ctx); }).code(), ErrorCode::HttpStatus);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->code(), ErrorCode::HttpStatus);
  EXPECT_EQ(seen->http_status(), 404);
  EXPECT_EQ(seen->step(), "missing");
  EXPECT_EQ(context_size, 1u);

  EXPECT_THROW(f.fetch(), tf::Error);
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(context_size);  // no context: NULL
}

TEST(ErrorHook, ExceptionsAreDropped) {
  tf::Fetcher f = tf::FetcherBuilder::body("missing", g_url, "/status/404")
                      .set_error_hook([](const tf::Error &, const tf::Context *) { throw std::runtime_error("ignored"); })
                      .build();
  EXPECT_EQ(error_of([&] { f.fetch(); }).code(), ErrorCode::HttpStatus);  // the fetch's own error
}

TEST(EventHook, ReportsFetchesCacheHitsFailuresAndInvalidations) {
  struct Log {
    std::mutex m;
    std::map<tf::EventKind, int> kinds;
    std::vector<tf::Event> failures;
    bool empty_step = false;
  };
  auto log = std::make_shared<Log>();
  tf::Pipeline p = tf::Pipeline::from_json(three_steps());
  p.add(tf::FetcherBuilder::body("broken", g_url, "/status/404").build());
  p.on_event([log](const tf::Event &e) {
    std::lock_guard<std::mutex> lock(log->m);
    ++log->kinds[e.kind];
    log->empty_step |= e.step.empty();
    if (e.kind == tf::EventKind::FetchFailed) log->failures.push_back(e);
  });
  p.get("user");
  p.get("user");
  p.invalidate("user");
  EXPECT_THROW(p.get("broken"), tf::Error);

  std::lock_guard<std::mutex> lock(log->m);
  EXPECT_EQ(log->kinds[tf::EventKind::FetchStarted], 4);
  EXPECT_EQ(log->kinds[tf::EventKind::FetchSucceeded], 3);
  EXPECT_EQ(log->kinds[tf::EventKind::CacheHit], 1);
  EXPECT_EQ(log->kinds[tf::EventKind::Invalidated], 1);
  EXPECT_FALSE(log->empty_step);
  ASSERT_EQ(log->failures.size(), 1u);
  EXPECT_EQ(log->failures[0].step, "broken");
  ASSERT_TRUE(log->failures[0].error);
  EXPECT_EQ(log->failures[0].error->code(), ErrorCode::HttpStatus);
  EXPECT_EQ(log->failures[0].error->http_status(), 404);
}

TEST(EventHook, ExceptionsAreDropped) {
  std::atomic<int> calls{0};
  tf::Pipeline p = tf::Pipeline::from_json(three_steps());
  p.on_event([&calls](const tf::Event &) {
    ++calls;
    throw std::runtime_error("ignored");
  });
  EXPECT_TRUE(starts_with(p.get("user").access_token(), "user-"));
  EXPECT_GT(calls, 0);
}

// ---- identity providers ----

// A private CA trusted through set_ca_file; without it a TLS error naming the reason.
TEST(Identity, PrivateCaAndTlsErrors) {
  tf::Token t = tf::FetcherBuilder::body("tls", g_tls_url, "/echo").set_ca_file(g_ca_file).build().fetch();
  EXPECT_EQ(t.access_token(), "echo-token");
  const tf::Error e = error_of([&] { tf::FetcherBuilder::body("tls", g_tls_url, "/echo").build().fetch(); });
  EXPECT_EQ(e.code(), ErrorCode::Tls);
  EXPECT_TRUE(contains(e.what(), "unknown issuer")) << e.what();
}

// private_key_jwt over HTTPS, then token exchange of that token.
TEST(Identity, PrivateKeyJwtThenTokenExchange) {
  const std::string key = std::string(TOKENFORGE_SOURCE_DIR) + "/tests/data/test-rsa-key.pem";
  std::ifstream in(key);
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  tf::FetcherBuilder::body("register", g_tls_url, "/_jwt_key")
      .set_ca_file(g_ca_file)
      .add_request_data("issuer", "cpp-svc")
      .add_request_data("alg", "RS256")
      .add_request_data("key", pem)
      .build()
      .fetch();
  tf::Pipeline p;
  p.add(tf::FetcherBuilder::client_credentials("svc", g_tls_url + "/oauth/token", "cpp-svc", "")
            .set_client_auth("private_key_jwt")
            .set_jwt_key(key, "RS256", std::string("k1"))
            .set_ca_file(g_ca_file)
            .build());
  p.add(tf::FetcherBuilder::token_exchange("user", g_tls_url + "/oauth/token", "{{svc.access_token}}")
            .add_dependency("svc")
            .add_request_data("audience", "https://api.example")
            .set_ca_file(g_ca_file)
            .build());
  const tf::Token user = p.get("user");
  EXPECT_TRUE(starts_with(user.access_token(), "tx-")) << user.access_token();
  EXPECT_EQ(user.extra("issued_token_type"), "urn:ietf:params:oauth:token-type:access_token");
  EXPECT_EQ(p.get("svc").extra("client_auth"), "private_key_jwt");
  EXPECT_EQ(error_of([&] { tf::FetcherBuilder::body("x", g_url, "/t").set_jwt_key(key, "HS256"); }).code(),
            ErrorCode::InvalidArgument);
}

// A certificate credential: the assertion carries the certificate's thumbprints (the server
// echoes them; any certificate will do for that, here the test CA's).
TEST(Identity, JwtCertificateThumbprints) {
  const std::string key = std::string(TOKENFORGE_SOURCE_DIR) + "/tests/data/test-rsa-key.pem";
  std::ifstream in(key);
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  tf::FetcherBuilder::body("register", g_url, "/_jwt_key")
      .add_request_data("issuer", "cpp-entra")
      .add_request_data("alg", "RS256")
      .add_request_data("key", pem)
      .build()
      .fetch();
  const tf::Token t = tf::FetcherBuilder::client_credentials("entra", g_url + "/oauth/token", "cpp-entra", "")
                          .set_client_auth("private_key_jwt")
                          .set_jwt_key(key, "RS256")
                          .set_jwt_certificate(g_ca_file)
                          .build()
                          .fetch();
  EXPECT_EQ(t.extra("assertion_x5t").value_or("").size(), 27u);       // SHA-1, base64url
  EXPECT_EQ(t.extra("assertion_x5t_s256").value_or("").size(), 43u);  // SHA-256
  const tf::Error e = error_of([&] {
    tf::FetcherBuilder::client_credentials("entra", g_url + "/oauth/token", "cpp-entra", "")
        .set_client_auth("private_key_jwt")
        .set_jwt_key(key, "RS256")
        .set_jwt_certificate(key)
        .build();
  });
  EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  EXPECT_TRUE(contains(e.what(), "holds no certificate")) << e.what();
}

// ---- storage ----

TEST(Storage, MemoryStoresRetrievesAndRemoves) {
  tf::Storage s = tf::Storage::memory();
  EXPECT_FALSE(s.retrieve("k"));
  s.store("k", tf::Token("v1"));
  s.store("k", tf::Token("v2"));
  ASSERT_TRUE(s.retrieve("k"));
  EXPECT_EQ(s.retrieve("k")->access_token(), "v2");
  s.remove("k");
  EXPECT_FALSE(s.retrieve("k"));
  s.remove("k");  // absent is fine
}

// A file store: a second pipeline (as a second process would) finds the first one's token;
// a directory others may enter is refused; a bad Redis URL too.
TEST(Storage, FileStoreSharedBetweenPipelines) {
  char tmpl[] = "/tmp/tf-cpp-store-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/store";
  std::string first;
  const long before = server_count("/switch/cpp-file");
  for (int i = 0; i < 2; i++) {
    tf::Storage s = tf::Storage::file(dir);
    tf::Pipeline p;
    p.add(tf::FetcherBuilder::body("shared", g_url, "/switch/cpp-file").build());
    p.set_storage(s, "cpp");
    const std::string token = p.get("shared").access_token();
    if (i == 0) first = token;
    EXPECT_EQ(token, first);
  }
  EXPECT_EQ(server_count("/switch/cpp-file"), before + 1);
  std::filesystem::permissions(tmpl, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                         std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                         std::filesystem::perms::others_exec);
  const tf::Error open = error_of([&] { tf::Storage::file(tmpl); });
  EXPECT_EQ(open.code(), ErrorCode::Storage);
  EXPECT_TRUE(contains(open.what(), "0755")) << open.what();
  EXPECT_EQ(error_of([&] { tf::Storage::redis("http://127.0.0.1:1"); }).code(), ErrorCode::InvalidArgument);
  std::filesystem::remove_all(tmpl);
}

TEST(Storage, CustomBackendThroughPipelines) {
  auto backend = std::make_shared<MapStorage>();
  {
    tf::Storage s = tf::Storage::custom(backend);
    EXPECT_EQ(backend.use_count(), 2);
    s.store("app:x", tf::Token("stored"));
    EXPECT_EQ(s.retrieve("app:x")->access_token(), "stored");
    s.remove("app:x");
    EXPECT_FALSE(s.retrieve("app:x"));

    backend->fail_store = true;
    const tf::Error e = error_of([&] { s.store("k", tf::Token("t")); });
    EXPECT_EQ(e.code(), ErrorCode::Storage);
    EXPECT_TRUE(contains(e.what(), "disk full")) << e.what();
    backend->fail_store = false;

    tf::Pipeline p1 = tf::Pipeline::from_json(three_steps());
    tf::Pipeline p2 = tf::Pipeline::from_json(three_steps());
    p1.set_storage(s, std::string("svc"));
    p2.set_storage(s, std::string("svc"));
    const tf::Token t1 = p1.get("user");
    ASSERT_TRUE(backend->map.find("svc:user"));
    EXPECT_EQ(backend->map.find("svc:user")->access_token(), t1.access_token());
    const long before = server_count("/user/auth");
    EXPECT_EQ(p2.get("user").access_token(), t1.access_token());  // loaded from storage
    EXPECT_EQ(server_count("/user/auth"), before);
    p1.invalidate("user");
    EXPECT_FALSE(backend->map.find("svc:user"));
  }
  EXPECT_EQ(backend.use_count(), 1);  // storage and pipelines gone: the box is freed
  EXPECT_EQ(error_of([] { tf::Storage::custom(nullptr); }).code(), ErrorCode::InvalidArgument);
}

TEST(Storage, CustomCallables) {
  auto map = std::make_shared<TokenMap>();
  {
    tf::Storage s = tf::Storage::custom([map](const std::string &key, const tf::Token &t) { map->put(key, t); },
                                        [map](const std::string &key) -> std::optional<tf::Token> {
                                          if (key == "boom") throw std::runtime_error("retrieve failed");
                                          return map->find(key);
                                        },
                                        [map](const std::string &key) { map->erase(key); });
    EXPECT_EQ(map.use_count(), 4);
    s.store("k", tf::Token("v"));
    EXPECT_EQ(map->find("k")->access_token(), "v");
    EXPECT_EQ(s.retrieve("k")->access_token(), "v");
    s.remove("k");
    EXPECT_FALSE(map->find("k"));
    const tf::Error e = error_of([&] { s.retrieve("boom"); });
    EXPECT_EQ(e.code(), ErrorCode::Storage);
    EXPECT_TRUE(contains(e.what(), "retrieve failed")) << e.what();

    tf::Pipeline p = tf::Pipeline::from_json(three_steps());
    p.set_storage(s);  // default key prefix
    const tf::Token t = p.get("app");
    EXPECT_EQ(map->find("tokenforge:app").value_or(tf::Token("none")).access_token(), t.access_token());
  }
  EXPECT_EQ(map.use_count(), 1);
}

// ---- pipelines ----

TEST(Pipeline, FromJsonGetAndInvalidate) {
  tf::Pipeline p = tf::Pipeline::from_json(three_steps());
  const long before = server_count("/user/auth");
  const tf::Token t1 = p.get("user");
  EXPECT_TRUE(starts_with(t1.access_token(), "user-")) << t1.access_token();
  EXPECT_EQ(p.get("user").access_token(), t1.access_token());  // cached
  EXPECT_EQ(server_count("/user/auth"), before + 1);

  EXPECT_FALSE(p.invalidate_if("user", "not-the-token"));
  EXPECT_TRUE(p.invalidate_if("user", t1.access_token()));
  EXPECT_FALSE(p.invalidate_if("user", t1.access_token()));  // already gone
  const tf::Token t2 = p.get("user");
  EXPECT_NE(t2.access_token(), t1.access_token());
  const tf::Token device = p.get("device");
  p.invalidate("device");  // and user, which depends on it
  EXPECT_NE(p.get("device").access_token(), device.access_token());
  EXPECT_NE(p.get("user").access_token(), t2.access_token());
  EXPECT_EQ(server_count("/user/auth"), before + 3);

  EXPECT_EQ(error_of([&] { p.get("nope"); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { p.invalidate("nope"); }).code(), ErrorCode::InvalidArgument);
}

TEST(Pipeline, StepHandleGetsWithoutTheNameAndCountsChanges) {
  std::optional<tf::Step> user;
  std::string first;
  {
    tf::Pipeline p = tf::Pipeline::from_json(three_steps());
    user.emplace(p.step("user"));
    EXPECT_EQ(error_of([&] { p.step("nope"); }).code(), ErrorCode::InvalidArgument);
    EXPECT_EQ(error_of([&] { p.set_refresh_margin_ms(1); }).code(), ErrorCode::Config);  // configured for good
    first = user->get().access_token();
    EXPECT_EQ(p.get("user").access_token(), first);  // the same cached token by name
    const uint64_t before = user->changes();
    EXPECT_EQ(user->get().access_token(), first);
    EXPECT_EQ(user->changes(), before);  // a cache hit changes nothing
    p.invalidate("app");                 // and user, which depends on it
    EXPECT_GT(user->changes(), before);
  }
  // The handle keeps the pipeline's state alive.
  const std::string second = user->get().access_token();
  EXPECT_TRUE(starts_with(second, "user-")) << second;
  EXPECT_NE(second, first);
  tf::Step moved = std::move(*user);
  EXPECT_EQ(user->changes(), 0u);
  EXPECT_EQ(error_of([&] { user->get(); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(moved.get().access_token(), second);
}

TEST(Log, CallbackGetsEventLinesAtItsLevel) {
  auto lines = std::make_shared<std::vector<std::pair<tf::LogLevel, std::string>>>();
  auto mu = std::make_shared<std::mutex>();
  tf::set_log_callback(tf::LogLevel::Info, [lines, mu](tf::LogLevel level, const std::string &line) {
    std::lock_guard<std::mutex> lock(*mu);
    lines->emplace_back(level, line);
  });
  tf::Pipeline p = tf::Pipeline::from_json(R"({"steps":[{"name":"logged","kind":"client_credentials","token_url":")" +
                                           g_url + R"(/oauth/token","client_id":"c","client_secret":"c-secret"}]})");
  const std::string token = p.get("logged").access_token();
  p.get("logged");  // a cache hit: Debug
  tf::reset_log_callback();
  p.invalidate("logged");
  std::lock_guard<std::mutex> lock(*mu);
  std::vector<std::string> mine;
  for (const auto &[level, line] : *lines)
    if (contains(line, "step=logged")) mine.push_back(line);
  ASSERT_EQ(mine.size(), 2u) << (mine.empty() ? "" : mine[0]);
  EXPECT_TRUE(starts_with(mine[0], "info step=logged event=fetch_started")) << mine[0];
  EXPECT_TRUE(starts_with(mine[1], "info step=logged event=fetch_succeeded took_ms=")) << mine[1];
  for (const auto &line : mine) EXPECT_FALSE(contains(line, token) || contains(line, "c-secret")) << line;
}

TEST(Pipeline, AddLiveAndRemoveWhileServing) {
  tf::Pipeline p = tf::Pipeline::from_json(three_steps());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; i++)
    readers.emplace_back([&] {
      while (!stop) try {
          p.get("app");
        } catch (...) {
          failures++;
        }
    });
  for (int i = 0; i < 10; i++) {
    const std::string name = "tenant" + std::to_string(i);
    p.add_live(tf::FetcherBuilder::header(name, g_url, "/header-token").set_token_header("X-Auth-Token").build());
    EXPECT_TRUE(starts_with(p.get(name).access_token(), "hdr-"));
    p.remove(name);
    EXPECT_EQ(error_of([&] { p.get(name); }).code(), ErrorCode::InvalidArgument);
  }
  stop = true;
  for (auto &r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  const tf::Error e = error_of([&] { p.remove("app"); });  // user depends on it
  EXPECT_EQ(e.code(), ErrorCode::Config);
  EXPECT_EQ(e.step(), "app");
}

TEST(Pipeline, FromJsonRefusesBadConfiguration) {
  EXPECT_EQ(error_of([] { tf::Pipeline::from_json("not json"); }).code(), ErrorCode::Config);
  const tf::Error e = error_of([] {
    tf::Pipeline::from_json(R"({"steps":[{"name":"s","kind":"body","base_url":"http://h","tll_ms":5}]})");
  });
  EXPECT_EQ(e.code(), ErrorCode::Config);
  EXPECT_EQ(e.step(), "s");
  EXPECT_EQ(e.field(), "tll_ms");
  EXPECT_TRUE(contains(e.what(), "did you mean \"ttl_ms\"")) << e.what();
}

TEST(Pipeline, BuiltFromFetchers) {
  tf::Pipeline p;
  p.set_refresh_margin_ms(1'000);
  p.set_default_lifetime_ms(60'000);
  EXPECT_EQ(error_of([&] { p.set_refresh_margin_ms(-1); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { p.set_default_lifetime_ms(0); }).code(), ErrorCode::InvalidArgument);

  p.add(tf::FetcherBuilder::body("a", g_url, "/echo")
            .add_dependency("b")
            .add_request_header("X-B", "{{b.access_token}}")
            .build());
  EXPECT_EQ(error_of([&] { p.add(tf::FetcherBuilder::body("a", g_url, "/echo").build()); }).code(), ErrorCode::Config);
  const tf::Error missing = error_of([&] { p.validate(); });
  EXPECT_EQ(missing.code(), ErrorCode::Config);
  EXPECT_TRUE(contains(missing.what(), "\"b\"")) << missing.what();

  p.add(tf::Fetcher::custom("b", [](const tf::Context *) { return tf::Token("b-token"); }));
  p.validate();
  const tf::Token a = p.get("a");
  EXPECT_EQ(a.extra("header.x-b"), "b-token");
  ASSERT_TRUE(a.expires_at_ms());

  tf::Pipeline cyclic;
  cyclic.add(tf::FetcherBuilder::body("x", g_url, "/echo").add_dependency("y").build());
  cyclic.add(tf::FetcherBuilder::body("y", g_url, "/echo").add_dependency("x").build());
  const tf::Error cycle = error_of([&] { cyclic.get("x"); });
  EXPECT_EQ(cycle.code(), ErrorCode::Config);
  EXPECT_TRUE(contains(cycle.what(), "cycle")) << cycle.what();
}

// A stale but valid token is served at once and renewed in the background; without
// background refresh the caller renews it.
TEST(Pipeline, RenewsInTheBackgroundUnlessTurnedOff) {
  for (const bool background : {true, false}) {
    tf::Pipeline p;
    p.set_background_refresh(background);
    std::mutex mu;
    std::vector<tf::Event> events;
    p.on_event([&](const tf::Event &e) {
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(e);
    });
    p.add(tf::FetcherBuilder::body("bg", g_url, background ? "/switch/cpp-bg" : "/switch/cpp-sync").set_ttl_ms(1'000).build());
    const std::string first = p.get("bg").access_token();
    std::this_thread::sleep_for(std::chrono::milliseconds(600));  // stale: the margin is half the lifetime
    const std::string second = p.get("bg").access_token();
    EXPECT_EQ(second == first, background) << "background " << background;
    std::string renewed = second;
    for (int i = 0; i < 500 && renewed == first; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      renewed = p.get("bg").access_token();
    }
    EXPECT_NE(renewed, first);
    std::lock_guard<std::mutex> lock(mu);
    const auto started = std::count_if(events.begin(), events.end(), [&](const tf::Event &e) {
      return e.kind == tf::EventKind::FetchStarted && e.background == background;
    });
    EXPECT_EQ(started, background ? 1 : 2);
  }
}

TEST(Pipeline, CustomFetcherAskingItsOwnPipelineGetsConfig) {
  tf::Pipeline p;
  p.add(tf::Fetcher::custom("self", [&p](const tf::Context *) { return p.get("self"); }));
  const tf::Error e = error_of([&] { p.get("self"); });
  EXPECT_EQ(e.code(), ErrorCode::Config);  // the inner Error went through the trampoline unchanged
  EXPECT_TRUE(contains(e.what(), "own fetch")) << e.what();
}

TEST(Pipeline, ManyThreadsGetAtOnce) {
  tf::Pipeline p = tf::Pipeline::from_json(three_steps());
  std::atomic<int> slow_calls{0};
  p.add(tf::Fetcher::custom("slow", [&slow_calls](const tf::Context *) {
    ++slow_calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return tf::Token("slow-token");
  }));
  const long before = server_count("/user/auth");
  std::atomic<int> failures{0};
  std::vector<std::string> first(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < 200; ++n) {
        try {
          const std::string user = p.get("user").access_token();
          if (n == 0) first[i] = user;
          if (user != first[i] || p.get("slow").access_token() != "slow-token") ++failures;
        } catch (const tf::Error &) {
          ++failures;
        }
      }
    });
  }
  for (std::thread &t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(server_count("/user/auth"), before + 1);  // 1600 gets, one fetch
  EXPECT_EQ(slow_calls, 1);
  EXPECT_TRUE(std::all_of(first.begin(), first.end(), [&](const std::string &s) { return s == first[0]; }));
}

// ---- ownership of the boxed callables ----

TEST(Userdata, RequestAndErrorHooksAreFreedWithTheirOwner) {
  auto probe = std::make_shared<int>(0);
  auto request_hook = [probe](const tf::Context *, tf::Request &) {};
  auto error_hook = [probe](const tf::Error &, const tf::Context *) {};
  {
    tf::FetcherBuilder abandoned = tf::FetcherBuilder::body("x", g_url, "/echo");
    abandoned.set_request_hook(request_hook).set_error_hook(error_hook);
    EXPECT_EQ(probe.use_count(), 5);  // probe, the two lambdas, the two boxes
  }
  EXPECT_EQ(probe.use_count(), 3);

  tf::FetcherBuilder b = tf::FetcherBuilder::body("x", g_url, "/echo");
  b.set_request_hook(request_hook);
  b.set_request_hook([](const tf::Context *, tf::Request &) {});  // replaces: the first box goes at once
  EXPECT_EQ(probe.use_count(), 3);
  b.set_error_hook(error_hook);
  std::optional<tf::Fetcher> f(b.build());
  EXPECT_EQ(probe.use_count(), 4);
  f->fetch();
  tf::Fetcher moved = std::move(*f);
  f.reset();
  EXPECT_EQ(probe.use_count(), 4);
  { tf::Fetcher gone = std::move(moved); }
  EXPECT_EQ(probe.use_count(), 3);

  // A refused hook (an empty builder) is freed at once.
  EXPECT_EQ(error_of([&] { b.set_request_hook(request_hook); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(error_of([&] { b.set_error_hook(error_hook); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(probe.use_count(), 3);
  // So is what a failed build held.
  EXPECT_THROW(tf::FetcherBuilder::body("x", "not a url", "/").set_request_hook(request_hook).build(), tf::Error);
  EXPECT_EQ(probe.use_count(), 3);
}

TEST(Userdata, CustomFetcherAndEventHookAreFreedWithTheirOwner) {
  auto probe = std::make_shared<int>(0);
  {
    tf::Pipeline p;
    {
      tf::Fetcher f = tf::Fetcher::custom("c", [probe](const tf::Context *) { return tf::Token("t"); });
      EXPECT_EQ(probe.use_count(), 2);
      p.add(f);
    }
    EXPECT_EQ(probe.use_count(), 2);  // the pipeline keeps the fetcher
    p.on_event([probe](const tf::Event &) {});
    EXPECT_EQ(probe.use_count(), 3);
    p.on_event([](const tf::Event &) {});  // replaces
    EXPECT_EQ(probe.use_count(), 2);
    EXPECT_EQ(p.get("c").access_token(), "t");
  }
  EXPECT_EQ(probe.use_count(), 1);

  // Refused at once: a step depending on itself, an event hook on an empty pipeline.
  EXPECT_EQ(error_of([&] { tf::Fetcher::custom("c", [probe](const tf::Context *) { return tf::Token("t"); }, {"c"}); }).code(),
            ErrorCode::Config);
  EXPECT_EQ(error_of([&] { tf::Fetcher::custom("", [probe](const tf::Context *) { return tf::Token("t"); }); }).code(),
            ErrorCode::InvalidArgument);
  tf::Pipeline empty;
  tf::Pipeline taken = std::move(empty);
  EXPECT_EQ(error_of([&] { empty.on_event([probe](const tf::Event &) {}); }).code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(probe.use_count(), 1);
}

TEST(Userdata, StorageIsFreedWithItsLastOwner) {
  auto probe = std::make_shared<int>(0);
  auto map = std::make_shared<TokenMap>();
  std::optional<tf::Pipeline> p(tf::Pipeline::from_json(three_steps()));
  {
    tf::Storage s = tf::Storage::custom([probe, map](const std::string &k, const tf::Token &t) { map->put(k, t); },
                                        [map](const std::string &k) { return map->find(k); },
                                        [map](const std::string &k) { map->erase(k); });
    p->set_storage(s, std::string("svc"));
  }
  EXPECT_EQ(probe.use_count(), 2);  // the pipeline keeps the storage
  p->get("device");
  EXPECT_TRUE(map->find("svc:device"));
  p.reset();
  EXPECT_EQ(probe.use_count(), 1);
}

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new TestServer);
  return RUN_ALL_TESTS();
}
