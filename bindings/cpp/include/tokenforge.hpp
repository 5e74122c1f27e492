// tokenforge.hpp: a header-only C++17 wrapper of the tokenforge C API (tokenforge.h).
//
// Ownership: every class owns its C handle through a std::unique_ptr whose deleter is the C
// free function. Classes are move-only, except Token, whose copies share one immutable,
// reference-counted token. A moved-from object is empty: destroying it is safe, calling it
// throws Error(ErrorCode::InvalidArgument) or gives an empty value, never a crash. capi()
// gives the C handle (borrowed) to mix this header with the C API.
//
// Errors: a failing call throws tokenforge::Error, which copies the code, message and fields
// of the C error. Absent values (no refresh token, no HTTP status, ...) are std::nullopt.
//
// Callables: hooks, custom fetchers, event hooks and custom storage take any callable. It is
// moved (or copied) into a box that the library owns and deletes exactly once, when the last
// owner (builder, fetcher, pipeline or storage) is freed, or at once when the call handing it
// over fails. Callbacks run synchronously on the thread that fetches, possibly on several
// threads at once, so callables are invoked through a const reference and must be
// thread-safe. An exception thrown by a callable never crosses the library: a
// tokenforge::Error keeps its code and message, another std::exception becomes
// ErrorCode::Callback with what(), anything else ErrorCode::Callback with a fixed message.
// Exceptions from error and event hooks, which return nothing, are dropped.
//
// Threading: Token, Fetcher, Storage and a configured Pipeline may be used from many threads
// at once; FetcherBuilder and Context from one thread at a time; Pipeline is configured
// (add, set_*, on_event) from one thread before its first get.

#ifndef TOKENFORGE_HPP
#define TOKENFORGE_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tokenforge.h"

namespace tokenforge {

/// The result codes of the C API (tokenforge_result), with the same values.
enum class ErrorCode : int {
  Ok = TOKENFORGE_RESULT_OK,
  InvalidArgument = TOKENFORGE_RESULT_INVALID_ARGUMENT,
  Config = TOKENFORGE_RESULT_CONFIG,
  Transport = TOKENFORGE_RESULT_TRANSPORT,
  Timeout = TOKENFORGE_RESULT_TIMEOUT,
  HttpStatus = TOKENFORGE_RESULT_HTTP_STATUS,
  OAuth = TOKENFORGE_RESULT_OAUTH,
  Response = TOKENFORGE_RESULT_RESPONSE,
  Dependency = TOKENFORGE_RESULT_DEPENDENCY,
  Callback = TOKENFORGE_RESULT_CALLBACK,
  Storage = TOKENFORGE_RESULT_STORAGE,
  Tls = TOKENFORGE_RESULT_TLS,
  Panic = TOKENFORGE_RESULT_PANIC,
};

/// What a pipeline event reports (tokenforge_event_kind), with the same values.
/// How much the library logs (tokenforge_log_level).
enum class LogLevel {
  Off = TOKENFORGE_LOG_LEVEL_OFF,
  Error = TOKENFORGE_LOG_LEVEL_ERROR,
  Warn = TOKENFORGE_LOG_LEVEL_WARN,
  Info = TOKENFORGE_LOG_LEVEL_INFO,
  Debug = TOKENFORGE_LOG_LEVEL_DEBUG,
};

enum class EventKind : int {
  CacheHit = TOKENFORGE_EVENT_KIND_CACHE_HIT,
  FetchStarted = TOKENFORGE_EVENT_KIND_FETCH_STARTED,
  FetchSucceeded = TOKENFORGE_EVENT_KIND_FETCH_SUCCEEDED,
  FetchFailed = TOKENFORGE_EVENT_KIND_FETCH_FAILED,
  Refreshed = TOKENFORGE_EVENT_KIND_REFRESHED,
  Retry = TOKENFORGE_EVENT_KIND_RETRY,
  Invalidated = TOKENFORGE_EVENT_KIND_INVALIDATED,
  StaleServed = TOKENFORGE_EVENT_KIND_STALE_SERVED,
  LoadedFromStorage = TOKENFORGE_EVENT_KIND_LOADED_FROM_STORAGE,
  StorageFailed = TOKENFORGE_EVENT_KIND_STORAGE_FAILED,
};

/// How request data is encoded in a POST body (tokenforge_content_type).
enum class ContentType : int {
  Form = TOKENFORGE_CONTENT_TYPE_FORM,
  Json = TOKENFORGE_CONTENT_TYPE_JSON,
};

/// The library version, "MAJOR.MINOR.PATCH".
inline std::string version() { return tokenforge_version(); }

namespace detail {

template <class T, void (*Free)(T *)>
struct Deleter {
  void operator()(T *p) const noexcept { Free(p); }
};

template <class T, void (*Free)(T *)>
using Handle = std::unique_ptr<T, Deleter<T, Free>>;

inline std::optional<std::string> opt(const char *s) {
  return s ? std::optional<std::string>(s) : std::nullopt;
}

inline std::optional<int64_t> opt_ms(int64_t ms) {
  return ms < 0 ? std::nullopt : std::optional<int64_t>(ms);
}

inline const char *c_str(const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; }

// Frees a context unless it is one the library lent to a callback.
struct ContextDeleter {
  bool owned = true;
  void operator()(tokenforge_context *c) const noexcept {
    if (owned) tokenforge_context_free(c);
  }
};

struct Callbacks;

}  // namespace detail

/// A failure of the library or of a callback. Copies every field of the C error it comes
/// from, which is freed at once. Throw one from a callback to fail it with that code.
class Error : public std::runtime_error {
 public:
  /// An error with `code` and `message` (copied), e.g. to fail a callback.
  Error(ErrorCode code, const std::string &message) : std::runtime_error(message), code_(code) {}

  /// A copy of the fields of the C error `e`, which stays the caller's.
  explicit Error(const tokenforge_error &e)
      : std::runtime_error(tokenforge_error_message(&e)),
        code_(static_cast<ErrorCode>(tokenforge_error_code(&e))),
        http_status_(tokenforge_error_http_status(&e)),
        step_(detail::opt(tokenforge_error_step(&e))),
        field_(detail::opt(tokenforge_error_field(&e))),
        oauth_error_(detail::opt(tokenforge_error_oauth_error(&e))),
        oauth_description_(detail::opt(tokenforge_error_oauth_description(&e))),
        retry_after_ms_(tokenforge_error_retry_after_ms(&e)),
        retryable_(tokenforge_error_is_retryable(&e)) {}

  /// The result code.
  ErrorCode code() const noexcept { return code_; }
  /// The HTTP status of the answer behind the error, if there was one.
  std::optional<int> http_status() const noexcept {
    return http_status_ == 0 ? std::nullopt : std::optional<int>(http_status_);
  }
  /// The fetcher or step that failed, if known.
  const std::optional<std::string> &step() const noexcept { return step_; }
  /// The configuration field a Config error is about (a pipeline JSON key such as
  /// "depends_on"; the first problem's when loading reported several), if any.
  const std::optional<std::string> &field() const noexcept { return field_; }
  /// The RFC 6749 `error` value, e.g. "invalid_client".
  const std::optional<std::string> &oauth_error() const noexcept { return oauth_error_; }
  /// The RFC 6749 `error_description`.
  const std::optional<std::string> &oauth_description() const noexcept { return oauth_description_; }
  /// How long the server asked to wait (Retry-After), in ms.
  std::optional<int64_t> retry_after_ms() const noexcept { return detail::opt_ms(retry_after_ms_); }
  /// True when trying again later may succeed.
  bool retryable() const noexcept { return retryable_; }

 private:
  ErrorCode code_;
  int32_t http_status_ = 0;
  std::optional<std::string> step_, field_, oauth_error_, oauth_description_;
  int64_t retry_after_ms_ = -1;
  bool retryable_ = false;
};

namespace detail {

using ErrorHandle = Handle<tokenforge_error, tokenforge_error_free>;

/// Throws the Error of a failed call, taking and freeing the C error in `*err` (may be NULL).
/// `err` is a pointer so that it is read after the call that fills it.
inline void check(tokenforge_result r, tokenforge_error **err) {
  ErrorHandle owned(*err);
  if (r == TOKENFORGE_RESULT_OK) return;
  if (!owned) throw Error(static_cast<ErrorCode>(r), tokenforge_result_name(r));
  throw Error(*owned);
}

/// Throws the Error of a failed call that gives no error object, naming `cls` and `what`.
inline void check(tokenforge_result r, const char *cls, const char *what) {
  if (r != TOKENFORGE_RESULT_OK)
    throw Error(static_cast<ErrorCode>(r), std::string(cls) + "::" + what + ": " + tokenforge_result_name(r));
}

/// Throws Error(code, `what`) when a C constructor returned NULL; otherwise gives `p`.
template <class T>
T *require(T *p, ErrorCode code, const char *what) {
  if (!p) throw Error(code, std::string(what) + " failed");
  return p;
}

}  // namespace detail

/// An access token with its type, expiry, refresh token and extra response fields.
/// Immutable and reference-counted: copies are cheap and may be used on any thread.
class Token {
 public:
  /// Makes a token (strings copied). An empty `token_type` means "Bearer". Throws
  /// Error(InvalidArgument) when `access_token` is empty, or it or `token_type` holds CR or LF.
  explicit Token(const std::string &access_token, const std::string &token_type = {},
                 std::optional<int64_t> expires_at_ms = std::nullopt,
                 const std::optional<std::string> &refresh_token = std::nullopt)
      : ptr_(detail::require(tokenforge_token_new(access_token.c_str(), token_type.c_str(),
                                                  expires_at_ms.value_or(TOKENFORGE_NO_EXPIRY),
                                                  detail::c_str(refresh_token)),
                             ErrorCode::InvalidArgument, "tokenforge_token_new")) {}

  /// Takes ownership of a C token (may be NULL: an empty Token).
  explicit Token(tokenforge_token *owned) noexcept : ptr_(owned) {}

  /// Another reference to the same token (tokenforge_token_clone).
  Token(const Token &other) noexcept : ptr_(tokenforge_token_clone(other.ptr_.get())) {}
  Token &operator=(const Token &other) noexcept {
    ptr_.reset(tokenforge_token_clone(other.ptr_.get()));
    return *this;
  }
  Token(Token &&) noexcept = default;
  Token &operator=(Token &&) noexcept = default;

  /// The access token ("" when empty).
  std::string access_token() const { return str(tokenforge_token_access_token(ptr_.get())); }
  /// The token type, "Bearer" when the response gave none ("" when empty).
  std::string token_type() const { return str(tokenforge_token_token_type(ptr_.get())); }
  /// The refresh token, if any.
  std::optional<std::string> refresh_token() const {
    return detail::opt(tokenforge_token_refresh_token(ptr_.get()));
  }
  /// The `scope` of the token response, if any.
  std::optional<std::string> scope() const { return detail::opt(tokenforge_token_scope(ptr_.get())); }
  /// Expiry in Unix epoch ms, if known.
  std::optional<int64_t> expires_at_ms() const {
    return detail::opt_ms(tokenforge_token_expires_at_ms(ptr_.get()));
  }
  /// True when the token expires within `margin_ms` from now; never for an unknown expiry;
  /// always for an empty Token.
  bool is_expired(int64_t margin_ms = 0) const { return tokenforge_token_is_expired(ptr_.get(), margin_ms); }
  /// "<type> <token>", the value of an Authorization header ("" when empty).
  std::string authorization() const { return str(tokenforge_token_authorization(ptr_.get())); }
  /// Another field of the token response: strings as they are, other JSON values as JSON text.
  std::optional<std::string> extra(const std::string &field) const {
    return detail::opt(tokenforge_token_extra(ptr_.get(), field.c_str()));
  }

  /// The C token, borrowed; NULL when empty.
  const tokenforge_token *capi() const noexcept { return ptr_.get(); }

 private:
  friend struct detail::Callbacks;
  static std::string str(const char *s) { return s ? s : ""; }
  detail::Handle<tokenforge_token, tokenforge_token_free> ptr_;
};

/// Step name -> token: the dependencies' tokens handed to a fetch. One thread at a time.
/// A callback receives the library's context as `const Context *` (NULL when the fetch had
/// none), valid for the call only.
class Context {
 public:
  /// An empty context.
  Context() : ptr_(detail::require(tokenforge_context_new(), ErrorCode::Panic, "tokenforge_context_new")) {}

  /// Takes ownership of a C context.
  explicit Context(tokenforge_context *owned) noexcept : ptr_(owned) {}

  Context(Context &&) noexcept = default;
  Context &operator=(Context &&) noexcept = default;

  /// Sets the token of step `name` (a copy), replacing any. Throws Error on failure.
  void set(const std::string &name, const Token &token) {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_context_set(ptr_.get(), name.c_str(), token.capi(), &err), &err);
  }
  /// The token of step `name`, if present.
  std::optional<Token> get(const std::string &name) const {
    const tokenforge_token *t = tokenforge_context_get(ptr_.get(), name.c_str());
    return t ? std::optional<Token>(Token(tokenforge_token_clone(t))) : std::nullopt;
  }
  /// The number of tokens.
  std::size_t size() const noexcept { return tokenforge_context_len(ptr_.get()); }

  /// The C context, borrowed; NULL when empty.
  const tokenforge_context *capi() const noexcept { return ptr_.get(); }

 private:
  friend struct detail::Callbacks;
  struct Borrowed {};
  // A view of a context the library lends to a callback: never freed here.
  Context(Borrowed, const tokenforge_context *ctx) noexcept
      : ptr_(const_cast<tokenforge_context *>(ctx), detail::ContextDeleter{false}) {}
  std::unique_ptr<tokenforge_context, detail::ContextDeleter> ptr_;
};

/// The request a request hook may read and change. Exists only during the hook call, on
/// that thread; never keep it. Setters throw Error(InvalidArgument) when refused.
class Request {
 public:
  Request(const Request &) = delete;
  Request &operator=(const Request &) = delete;

  /// Sets (or replaces, any case) a header.
  void set_header(const std::string &name, const std::string &value) {
    check(tokenforge_request_set_header(req_, name.c_str(), value.c_str()), "set_header");
  }
  /// Removes a header (any case); absent is fine.
  void remove_header(const std::string &name) {
    check(tokenforge_request_remove_header(req_, name.c_str()), "remove_header");
  }
  /// Sets (or replaces) a data field: in the body, or in the query string with GET.
  void set_data(const std::string &key, const std::string &value) {
    check(tokenforge_request_set_data(req_, key.c_str(), value.c_str()), "set_data");
  }
  /// Removes a data field; absent is fine.
  void remove_data(const std::string &key) { check(tokenforge_request_remove_data(req_, key.c_str()), "remove_data"); }
  /// Sets (or replaces) a query parameter.
  void set_query(const std::string &key, const std::string &value) {
    check(tokenforge_request_set_query(req_, key.c_str(), value.c_str()), "set_query");
  }
  /// Sends `body` (copied) instead of the encoded data, with `content_type`
  /// (default "application/octet-stream").
  void set_body(std::string_view body, const std::optional<std::string> &content_type = std::nullopt) {
    check(tokenforge_request_set_body(req_, reinterpret_cast<const uint8_t *>(body.data()), body.size(),
                                      detail::c_str(content_type)),
          "set_body");
  }
  /// "GET" or "POST".
  std::string method() const { return tokenforge_request_method(req_); }
  /// The URL, without the query parameters.
  std::string url() const { return tokenforge_request_url(req_); }
  /// The value of a header (any case), if present.
  std::optional<std::string> header(const std::string &name) const {
    return detail::opt(tokenforge_request_header(req_, name.c_str()));
  }

  /// The C request, borrowed for the hook call.
  tokenforge_request *capi() const noexcept { return req_; }

 private:
  friend struct detail::Callbacks;
  explicit Request(tokenforge_request *req) noexcept : req_(req) {}
  static void check(tokenforge_result r, const char *what) { detail::check(r, "Request", what); }
  tokenforge_request *req_;
};

/// One pipeline event, as an event hook receives it.
struct Event {
  /// What happened.
  EventKind kind;
  /// The step concerned.
  std::string step;
  /// Fetch and refresh events: how long it took; retry events: the wait before the retry.
  int64_t duration_us;
  /// Expiry of the token concerned (Unix epoch ms), if known.
  std::optional<int64_t> expires_at_ms;
  /// Retry events: the number of the attempt about to start (2 for the first retry).
  uint32_t attempt;
  /// Failure, stale-served and storage events: the error.
  std::optional<Error> error;
  /// True for the events of a renewal running in the background, which no caller waits for.
  bool background;
};

/// The interface of a custom storage (see Storage::custom). Its methods may run on several
/// threads at once and must be thread-safe; throwing fails the operation, which reaches the
/// caller as ErrorCode::Storage with the exception's message.
class StorageBackend {
 public:
  virtual ~StorageBackend() = default;
  /// Stores `token` under `key`, replacing any.
  virtual void store(const std::string &key, const Token &token) = 0;
  /// The token under `key`, or std::nullopt when absent.
  virtual std::optional<Token> retrieve(const std::string &key) = 0;
  /// Deletes the token under `key`; an absent key is fine.
  virtual void remove(const std::string &key) = 0;
};

namespace detail {

/// The C trampolines: each casts its userdata back to the boxed callable, calls it, and
/// turns an exception into a result code (and error) instead of letting it cross the library.
struct Callbacks {
  template <class F>
  static void *box(F &&f) {
    return new std::decay_t<F>(std::forward<F>(f));
  }

  template <class Box>
  static void free_box(void *userdata) noexcept {
    delete static_cast<Box *>(userdata);
  }

  template <class Box>
  static const Box &unbox(void *userdata) noexcept {
    return *static_cast<const Box *>(userdata);
  }

  /// Runs `body`; on an exception returns its code (never OK) and, when `err` is not NULL,
  /// an error with its message.
  template <class Body>
  static tokenforge_result guard(tokenforge_error **err, Body &&body) noexcept {
    try {
      body();
      return TOKENFORGE_RESULT_OK;
    } catch (const Error &e) {
      return fail(err, static_cast<tokenforge_result>(e.code()), e.what());
    } catch (const std::exception &e) {
      return fail(err, TOKENFORGE_RESULT_CALLBACK, e.what());
    } catch (...) {
      return fail(err, TOKENFORGE_RESULT_CALLBACK, "a C++ callback threw a non-standard exception");
    }
  }

  static tokenforge_result fail(tokenforge_error **err, tokenforge_result code, const char *message) noexcept {
    if (code == TOKENFORGE_RESULT_OK) code = TOKENFORGE_RESULT_CALLBACK;
    if (err) *err = tokenforge_error_new(code, message);
    return code;
  }

  static const Context *view(const tokenforge_context *ctx, const Context &holder) noexcept {
    return ctx ? &holder : nullptr;
  }

  /// A hook that throws refuses the request with the exception's code (a tokenforge::Error's,
  /// else CALLBACK) and message, through tokenforge_request_fail_error: the caller of the
  /// fetch sees them, on whichever thread the hook ran.
  template <class Box>
  static tokenforge_result request_hook(void *userdata, const tokenforge_context *ctx, tokenforge_request *req) noexcept {
    tokenforge_error *err = nullptr;
    const tokenforge_result rc = guard(&err, [&] {
      const Context holder(Context::Borrowed{}, ctx);
      Request request(req);
      unbox<Box>(userdata)(view(ctx, holder), request);
    });
    if (err) tokenforge_request_fail_error(req, err);  // takes err
    return rc;
  }

  template <class Box>
  static void error_hook(void *userdata, const tokenforge_error *error, const tokenforge_context *ctx) noexcept {
    guard(nullptr, [&] {
      const Context holder(Context::Borrowed{}, ctx);
      unbox<Box>(userdata)(Error(*error), view(ctx, holder));
    });
  }

  template <class Box>
  static tokenforge_result fetch(void *userdata, const tokenforge_context *ctx, tokenforge_token **out,
                                 tokenforge_error **err) noexcept {
    return guard(err, [&] {
      const Context holder(Context::Borrowed{}, ctx);
      Token token = unbox<Box>(userdata)(view(ctx, holder));
      *out = token.ptr_.release();
    });
  }

  template <class Box>
  static void event_hook(void *userdata, const tokenforge_event *e) noexcept {
    guard(nullptr, [&] {
      unbox<Box>(userdata)(Event{static_cast<EventKind>(e->kind), e->step ? e->step : "", e->duration_us,
                                 opt_ms(e->expires_at_ms), e->attempt,
                                 e->error ? std::optional<Error>(Error(*e->error)) : std::nullopt, e->background});
    });
  }

  template <class Box>
  static void log_line(void *userdata, tokenforge_log_level level, const char *line) noexcept {
    guard(nullptr, [&] { unbox<Box>(userdata)(static_cast<LogLevel>(level), std::string(line ? line : "")); });
  }

  using Backend = std::shared_ptr<StorageBackend>;

  static tokenforge_result store(void *userdata, const char *key, const tokenforge_token *t,
                                 tokenforge_error **err) noexcept {
    return guard(err, [&] { unbox<Backend>(userdata)->store(key, Token(tokenforge_token_clone(t))); });
  }

  static tokenforge_result retrieve(void *userdata, const char *key, tokenforge_token **out,
                                    tokenforge_error **err) noexcept {
    return guard(err, [&] {
      std::optional<Token> token = unbox<Backend>(userdata)->retrieve(key);
      if (token) *out = token->ptr_.release();
    });
  }

  static tokenforge_result remove(void *userdata, const char *key, tokenforge_error **err) noexcept {
    return guard(err, [&] { unbox<Backend>(userdata)->remove(key); });
  }
};

/// A StorageBackend made of three callables.
template <class Store, class Retrieve, class Remove>
class CallableBackend final : public StorageBackend {
 public:
  CallableBackend(Store s, Retrieve r, Remove d) : store_(std::move(s)), retrieve_(std::move(r)), remove_(std::move(d)) {}
  void store(const std::string &key, const Token &token) override { store_(key, token); }
  std::optional<Token> retrieve(const std::string &key) override { return retrieve_(key); }
  void remove(const std::string &key) override { remove_(key); }

 private:
  const Store store_;
  const Retrieve retrieve_;
  const Remove remove_;
};

}  // namespace detail

/// One step that obtains one token. Immutable: any number of threads may fetch with it at
/// once. A pipeline it is added to keeps its own reference.
class Fetcher {
 public:
  /// Takes ownership of a C fetcher.
  explicit Fetcher(tokenforge_fetcher *owned) noexcept : ptr_(owned) {}

  Fetcher(Fetcher &&) noexcept = default;
  Fetcher &operator=(Fetcher &&) noexcept = default;

  /// A step whose fetch is `fetch`, a callable `Token(const Context *)` (the context is NULL
  /// when the fetch had none) that may run on several threads at once; what it throws
  /// reaches the caller of fetch (see the top of this file). `depends_on` names the steps
  /// whose tokens it needs; `ttl_ms` overrides the expiry of the tokens it returns. Throws
  /// Error(InvalidArgument) for empty names, Error(Config) when it depends on itself.
  template <class F>
  static Fetcher custom(const std::string &name, F &&fetch, const std::vector<std::string> &depends_on = {},
                        std::optional<int64_t> ttl_ms = std::nullopt) {
    using Box = std::decay_t<F>;
    static_assert(std::is_invocable_r_v<Token, const Box &, const Context *>,
                  "a custom fetcher is callable as Token(const tokenforge::Context *)");
    std::vector<const char *> deps;
    for (const std::string &d : depends_on) deps.push_back(d.c_str());
    tokenforge_fetcher *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_fetcher_new_custom(name.c_str(), deps.data(), deps.size(), ttl_ms.value_or(-1),
                                                detail::Callbacks::fetch<Box>,
                                                detail::Callbacks::box(std::forward<F>(fetch)),
                                                detail::Callbacks::free_box<Box>, &out, &err),
                  &err);
    return Fetcher(out);
  }

  /// Fetches a token; `ctx` holds the tokens of the declared dependencies. Blocks for at most
  /// the fetcher's deadline. Throws Error (the step named) on failure.
  Token fetch(const Context *ctx = nullptr) const {
    tokenforge_token *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_fetcher_fetch(ptr_.get(), ctx ? ctx->capi() : nullptr, &out, &err), &err);
    return Token(out);
  }

  /// The step name ("" when empty).
  std::string name() const {
    const char *n = tokenforge_fetcher_name(ptr_.get());
    return n ? n : "";
  }

  /// The declared dependencies, in order.
  std::vector<std::string> dependencies() const {
    std::vector<std::string> deps;
    for (std::size_t i = 0, n = tokenforge_fetcher_dependency_count(ptr_.get()); i < n; ++i)
      deps.emplace_back(tokenforge_fetcher_dependency(ptr_.get(), i));
    return deps;
  }

  /// The C fetcher, borrowed; NULL when empty.
  const tokenforge_fetcher *capi() const noexcept { return ptr_.get(); }

 private:
  detail::Handle<tokenforge_fetcher, tokenforge_fetcher_free> ptr_;
};

/// The options of a fetcher under construction; one thread at a time. Setters copy their
/// arguments, return *this, and throw Error(InvalidArgument) when the value is refused (the
/// builder is then unchanged). build() consumes the builder.
class FetcherBuilder {
 public:
  /// Takes ownership of a C builder.
  explicit FetcherBuilder(tokenforge_fetcher_builder *owned) noexcept : ptr_(owned) {}

  FetcherBuilder(FetcherBuilder &&) noexcept = default;
  FetcherBuilder &operator=(FetcherBuilder &&) noexcept = default;

  /// A fetcher reading the token from the JSON body answered by `base_url` + `endpoint`.
  /// Throws Error(InvalidArgument) for bad UTF-8 (the URL is checked by build).
  static FetcherBuilder body(const std::string &name, const std::string &base_url, const std::string &endpoint) {
    return make(tokenforge_fetcher_builder_new_body(name.c_str(), base_url.c_str(), endpoint.c_str()));
  }
  /// A fetcher reading the token from a response header ("Authorization" by default).
  static FetcherBuilder header(const std::string &name, const std::string &base_url, const std::string &endpoint) {
    return make(tokenforge_fetcher_builder_new_header(name.c_str(), base_url.c_str(), endpoint.c_str()));
  }
  /// The JWT bearer grant (RFC 7523 section 2.1, Google service accounts): an assertion
  /// signed with the key of set_jwt_key (required), iss = issuer, sub = subject.
  static FetcherBuilder jwt_bearer(const std::string &name, const std::string &token_url, const std::string &issuer,
                                   const std::optional<std::string> &subject = std::nullopt,
                                   const std::optional<std::string> &scope = std::nullopt) {
    return make(tokenforge_fetcher_builder_new_jwt_bearer(name.c_str(), token_url.c_str(), issuer.c_str(),
                                                          detail::c_str(subject), detail::c_str(scope)));
  }
  /// Token exchange (RFC 8693): subject_token (a template, usually) exchanged for another
  /// token; requested_token_type, audience, resource and scope are request data.
  static FetcherBuilder token_exchange(const std::string &name, const std::string &token_url,
                                       const std::string &subject_token,
                                       const std::optional<std::string> &subject_token_type = std::nullopt) {
    return make(tokenforge_fetcher_builder_new_token_exchange(name.c_str(), token_url.c_str(), subject_token.c_str(),
                                                              detail::c_str(subject_token_type)));
  }
  /// The OAuth2 client_credentials grant at `token_url`, the client authenticated by HTTP
  /// Basic unless set_client_auth_in_body(true).
  static FetcherBuilder client_credentials(const std::string &name, const std::string &token_url,
                                           const std::string &client_id, const std::string &client_secret,
                                           const std::optional<std::string> &scope = std::nullopt) {
    return make(tokenforge_fetcher_builder_new_client_credentials(name.c_str(), token_url.c_str(), client_id.c_str(),
                                                                  client_secret.c_str(), detail::c_str(scope)));
  }

  /// "GET" or "POST" (default); not GET for client_credentials.
  FetcherBuilder &set_method(const std::string &method) {
    return check(tokenforge_fetcher_builder_set_method(ptr_.get(), method.c_str()), "set_method");
  }
  /// Adds (or replaces) a request header; the value may hold {{step.field}} templates.
  FetcherBuilder &add_request_header(const std::string &name, const std::string &value) {
    return check(tokenforge_fetcher_builder_add_request_header(ptr_.get(), name.c_str(), value.c_str()),
                 "add_request_header");
  }
  /// Adds (or replaces) a data field (body, or query string with GET); may hold templates.
  FetcherBuilder &add_request_data(const std::string &key, const std::string &value) {
    return check(tokenforge_fetcher_builder_add_request_data(ptr_.get(), key.c_str(), value.c_str()),
                 "add_request_data");
  }
  /// Adds (or replaces) a query parameter; may hold templates.
  FetcherBuilder &add_query_param(const std::string &key, const std::string &value) {
    return check(tokenforge_fetcher_builder_add_query_param(ptr_.get(), key.c_str(), value.c_str()),
                 "add_query_param");
  }
  /// How data is encoded in a POST body (Form by default; not Json for client_credentials).
  FetcherBuilder &set_content_type(ContentType type) {
    return check(tokenforge_fetcher_builder_set_content_type(ptr_.get(), static_cast<tokenforge_content_type>(type)),
                 "set_content_type");
  }
  /// Field (or dotted path) of the access token; body and client_credentials only.
  FetcherBuilder &set_token_field(const std::string &path) {
    return check(tokenforge_fetcher_builder_set_token_field(ptr_.get(), path.c_str()), "set_token_field");
  }
  /// Field of the token type; body and client_credentials only.
  FetcherBuilder &set_token_type_field(const std::string &path) {
    return check(tokenforge_fetcher_builder_set_token_type_field(ptr_.get(), path.c_str()), "set_token_type_field");
  }
  /// Field of the lifetime in seconds; body and client_credentials only.
  FetcherBuilder &set_expires_in_field(const std::string &path) {
    return check(tokenforge_fetcher_builder_set_expires_in_field(ptr_.get(), path.c_str()), "set_expires_in_field");
  }
  /// Field of the refresh token; body and client_credentials only.
  FetcherBuilder &set_refresh_token_field(const std::string &path) {
    return check(tokenforge_fetcher_builder_set_refresh_token_field(ptr_.get(), path.c_str()),
                 "set_refresh_token_field");
  }
  /// Token type when the response gives none; body and client_credentials only.
  FetcherBuilder &set_default_token_type(const std::string &type) {
    return check(tokenforge_fetcher_builder_set_default_token_type(ptr_.get(), type.c_str()),
                 "set_default_token_type");
  }
  /// Response header holding the token; header builders only.
  FetcherBuilder &set_token_header(const std::string &header) {
    return check(tokenforge_fetcher_builder_set_token_header(ptr_.get(), header.c_str()), "set_token_header");
  }
  /// Type of the header token, stripped from the header value; header builders only.
  FetcherBuilder &set_token_type(const std::string &type) {
    return check(tokenforge_fetcher_builder_set_token_type(ptr_.get(), type.c_str()), "set_token_type");
  }
  /// Authenticates the token request by HTTP Basic.
  FetcherBuilder &set_basic_auth(const std::string &user, const std::string &password) {
    return check(tokenforge_fetcher_builder_set_basic_auth(ptr_.get(), user.c_str(), password.c_str()),
                 "set_basic_auth");
  }
  /// client_credentials only: true sends the client id and secret in the body.
  FetcherBuilder &set_client_auth_in_body(bool in_body) {
    return check(tokenforge_fetcher_builder_set_client_auth_in_body(ptr_.get(), in_body), "set_client_auth_in_body");
  }
  /// How the client authenticates, to the client_credentials grant and to the refresh
  /// endpoint: "client_secret_basic" (default) or "client_secret_post".
  FetcherBuilder &set_client_auth(const std::string &method) {
    return check(tokenforge_fetcher_builder_set_client_auth(ptr_.get(), method.c_str()), "set_client_auth");
  }
  /// Lifetime of every token of this fetcher, overriding expires_in; positive.
  FetcherBuilder &set_ttl_ms(int64_t ttl_ms) {
    return check(tokenforge_fetcher_builder_set_ttl_ms(ptr_.get(), ttl_ms), "set_ttl_ms");
  }
  /// Total deadline of one fetch, retries included (default 30000); not 0.
  FetcherBuilder &set_timeout_ms(uint64_t ms) {
    return check(tokenforge_fetcher_builder_set_timeout_ms(ptr_.get(), ms), "set_timeout_ms");
  }
  /// Whether the TLS certificate is verified (default true).
  FetcherBuilder &set_verify_tls(bool verify) {
    return check(tokenforge_fetcher_builder_set_verify_tls(ptr_.get(), verify), "set_verify_tls");
  }
  /// Trusts the CA certificates in a PEM file instead of the system store.
  FetcherBuilder &set_ca_file(const std::string &pem_path) {
    return check(tokenforge_fetcher_builder_set_ca_file(ptr_.get(), pem_path.c_str()), "set_ca_file");
  }
  /// Mutual TLS: the certificate chain and key (PEM files) presented to servers that ask.
  FetcherBuilder &set_client_cert(const std::string &cert_pem_path, const std::string &key_pem_path) {
    return check(tokenforge_fetcher_builder_set_client_cert(ptr_.get(), cert_pem_path.c_str(), key_pem_path.c_str()),
                 "set_client_cert");
  }
  /// The client of a body, header, jwt_bearer or token_exchange step.
  FetcherBuilder &set_client(const std::string &client_id, const std::optional<std::string> &client_secret = std::nullopt) {
    return check(tokenforge_fetcher_builder_set_client(ptr_.get(), client_id.c_str(), detail::c_str(client_secret)),
                 "set_client");
  }
  /// The key (PEM file) signing private_key_jwt assertions and the jwt_bearer assertion:
  /// "RS256", "PS256" or "ES256".
  FetcherBuilder &set_jwt_key(const std::string &key_pem_path, const std::string &alg,
                              const std::optional<std::string> &kid = std::nullopt) {
    return check(tokenforge_fetcher_builder_set_jwt_key(ptr_.get(), key_pem_path.c_str(), alg.c_str(), detail::c_str(kid)),
                 "set_jwt_key");
  }
  /// The X.509 certificate (PEM file) of that key: assertions carry its thumbprints (x5t,
  /// x5t#S256), as Microsoft Entra ID certificate credentials need.
  FetcherBuilder &set_jwt_certificate(const std::string &cert_pem_path) {
    return check(tokenforge_fetcher_builder_set_jwt_certificate(ptr_.get(), cert_pem_path.c_str()),
                 "set_jwt_certificate");
  }
  /// Discovery: the token endpoint is the one in the issuer's metadata.
  FetcherBuilder &set_issuer(const std::string &issuer) {
    return check(tokenforge_fetcher_builder_set_issuer(ptr_.get(), issuer.c_str()), "set_issuer");
  }
  /// token_exchange: the actor token (a template, usually) and its type.
  FetcherBuilder &set_actor_token(const std::string &actor_token,
                                  const std::optional<std::string> &actor_token_type = std::nullopt) {
    return check(
        tokenforge_fetcher_builder_set_actor_token(ptr_.get(), actor_token.c_str(), detail::c_str(actor_token_type)),
        "set_actor_token");
  }
  /// In a pipeline, a renewal of this step renews its dependents at once (default: false).
  FetcherBuilder &set_renews_dependents(bool renews) {
    return check(tokenforge_fetcher_builder_set_renews_dependents(ptr_.get(), renews), "set_renews_dependents");
  }
  /// Attempts in all (1 to 10) and the first backoff (at most 60000 ms).
  FetcherBuilder &set_retry(uint32_t max_attempts, uint64_t base_delay_ms) {
    return check(tokenforge_fetcher_builder_set_retry(ptr_.get(), max_attempts, base_delay_ms), "set_retry");
  }
  /// Declares that this step needs the token of `step`.
  FetcherBuilder &add_dependency(const std::string &step) {
    return check(tokenforge_fetcher_builder_add_dependency(ptr_.get(), step.c_str()), "add_dependency");
  }
  /// In a pipeline, renews a cached token that has a refresh token at `token_url` (a public
  /// client when `client_secret` is absent).
  /// No client_id: the step's own client; a client_id without secret: a public client.
  FetcherBuilder &set_refresh_endpoint(const std::string &token_url,
                                       const std::optional<std::string> &client_id = std::nullopt,
                                       const std::optional<std::string> &client_secret = std::nullopt) {
    return check(tokenforge_fetcher_builder_set_refresh_endpoint(ptr_.get(), token_url.c_str(), detail::c_str(client_id),
                                                                 detail::c_str(client_secret)),
                 "set_refresh_endpoint");
  }
  /// Sets the request hook, a callable `void(const Context *, Request &)` run before each
  /// request is sent, replacing any earlier one. Throwing aborts the fetch with
  /// ErrorCode::Callback (the C hook carries no message) and nothing is sent.
  template <class F>
  FetcherBuilder &set_request_hook(F &&hook) {
    using Box = std::decay_t<F>;
    static_assert(std::is_invocable_v<const Box &, const Context *, Request &>,
                  "a request hook is callable as void(const tokenforge::Context *, tokenforge::Request &)");
    return check(tokenforge_fetcher_builder_set_request_hook(ptr_.get(), detail::Callbacks::request_hook<Box>,
                                                             detail::Callbacks::box(std::forward<F>(hook)),
                                                             detail::Callbacks::free_box<Box>),
                 "set_request_hook");
  }
  /// Sets the error hook, a callable `void(const Error &, const Context *)` called once per
  /// failed fetch, replacing any earlier one. What it throws is dropped.
  template <class F>
  FetcherBuilder &set_error_hook(F &&hook) {
    using Box = std::decay_t<F>;
    static_assert(std::is_invocable_v<const Box &, const Error &, const Context *>,
                  "an error hook is callable as void(const tokenforge::Error &, const tokenforge::Context *)");
    return check(tokenforge_fetcher_builder_set_error_hook(ptr_.get(), detail::Callbacks::error_hook<Box>,
                                                           detail::Callbacks::box(std::forward<F>(hook)),
                                                           detail::Callbacks::free_box<Box>),
                 "set_error_hook");
  }

  /// Builds the fetcher, consuming the builder (empty afterwards, even when it throws).
  /// Throws Error(InvalidArgument) for an empty name or bad URL, Error(Config) for a bad
  /// template or a step depending on itself.
  Fetcher build() {
    tokenforge_fetcher *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_fetcher_builder_build(ptr_.release(), &out, &err), &err);
    return Fetcher(out);
  }

  /// The C builder, borrowed; NULL when empty.
  tokenforge_fetcher_builder *capi() const noexcept { return ptr_.get(); }

 private:
  static FetcherBuilder make(tokenforge_fetcher_builder *b) {
    return FetcherBuilder(detail::require(b, ErrorCode::InvalidArgument, "tokenforge_fetcher_builder_new"));
  }
  FetcherBuilder &check(tokenforge_result r, const char *what) {
    detail::check(r, "FetcherBuilder", what);
    return *this;
  }
  detail::Handle<tokenforge_fetcher_builder, tokenforge_fetcher_builder_free> ptr_;
};

/// A place to keep tokens by key. Thread-safe; pipelines using it keep their own reference.
class Storage {
 public:
  /// Takes ownership of a C storage.
  explicit Storage(tokenforge_storage *owned) noexcept : ptr_(owned) {}

  Storage(Storage &&) noexcept = default;
  Storage &operator=(Storage &&) noexcept = default;

  /// An empty in-memory storage.
  static Storage memory() {
    return Storage(detail::require(tokenforge_storage_new_memory(), ErrorCode::Panic, "tokenforge_storage_new_memory"));
  }

  /// A store in the directory `dir`, shared by the processes of this machine (created 0700;
  /// files 0600, written atomically; kernel-lock leases). Throws Error(Storage) for a
  /// directory other users may use.
  static Storage file(const std::string &dir) {
    tokenforge_storage *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_storage_new_file(dir.c_str(), &out, &err), &err);
    return Storage(out);
  }

  /// A store in Redis, shared by a fleet: redis://[user:password@]host:port[/db], rediss://
  /// or redis+unix:///path. Connects at first use; while Redis is down pipelines fetch by
  /// themselves.
  static Storage redis(const std::string &url) {
    tokenforge_storage *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_storage_new_redis(url.c_str(), &out, &err), &err);
    return Storage(out);
  }

  /// A storage kept by `backend`, shared with the library until the last owner of the
  /// storage is freed. Throws Error(InvalidArgument) when `backend` is null.
  static Storage custom(std::shared_ptr<StorageBackend> backend) {
    using Backend = detail::Callbacks::Backend;
    if (!backend) throw Error(ErrorCode::InvalidArgument, "Storage::custom: null backend");
    tokenforge_storage_callbacks callbacks{sizeof(tokenforge_storage_callbacks), detail::Callbacks::store,
                                           detail::Callbacks::retrieve, detail::Callbacks::remove, nullptr,
                                           nullptr};
    tokenforge_storage *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_storage_new_custom(&callbacks, detail::Callbacks::box(std::move(backend)),
                                                detail::Callbacks::free_box<Backend>, &out, &err),
                  &err);
    return Storage(out);
  }

  /// A storage made of three callables, `void(const std::string &key, const Token &)`,
  /// `std::optional<Token>(const std::string &key)` and `void(const std::string &key)`, with
  /// the contract of StorageBackend.
  template <class Store, class Retrieve, class Remove>
  static Storage custom(Store &&store, Retrieve &&retrieve, Remove &&remove) {
    using Backend = detail::CallableBackend<std::decay_t<Store>, std::decay_t<Retrieve>, std::decay_t<Remove>>;
    return custom(std::make_shared<Backend>(std::forward<Store>(store), std::forward<Retrieve>(retrieve),
                                            std::forward<Remove>(remove)));
  }

  /// Stores a copy of `token` under `key`, replacing any. Throws Error on failure.
  void store(const std::string &key, const Token &token) const {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_storage_store(ptr_.get(), key.c_str(), token.capi(), &err), &err);
  }
  /// The token under `key`, or std::nullopt when absent. Throws Error on failure.
  std::optional<Token> retrieve(const std::string &key) const {
    tokenforge_token *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_storage_retrieve(ptr_.get(), key.c_str(), &out, &err), &err);
    return out ? std::optional<Token>(Token(out)) : std::nullopt;
  }
  /// Deletes the token under `key`; an absent key is fine. Throws Error on failure.
  void remove(const std::string &key) const {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_storage_delete(ptr_.get(), key.c_str(), &err), &err);
  }

  /// The C storage, borrowed; NULL when empty.
  const tokenforge_storage *capi() const noexcept { return ptr_.get(); }

 private:
  detail::Handle<tokenforge_storage, tokenforge_storage_free> ptr_;
};

/// Steps, their cached tokens and the rules to renew them. Configure it (add, set_*,
/// on_event) from one thread before the first get; then get, invalidate and invalidate_if
/// may be called from any number of threads at once.
/// One step of a pipeline, found once (Pipeline::step): get() is Pipeline::get of its name
/// without the lookup. It shares the pipeline's state and keeps it alive, so it may outlive
/// the Pipeline object. Move-only; thread-safe (one Step may serve many threads).
class Step {
 public:
  /// Takes ownership of a C step handle (may be NULL: an empty Step).
  explicit Step(tokenforge_step *owned) noexcept : ptr_(owned) {}
  Step(Step &&) noexcept = default;
  Step &operator=(Step &&) noexcept = default;

  /// The token of the step, as Pipeline::get. Throws as Pipeline::get, and
  /// Error(InvalidArgument) on an empty (moved-from) Step.
  Token get() const {
    tokenforge_token *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_step_get(ptr_.get(), &out, &err), &err);
    return Token(out);
  }
  /// The step's change count: it grows whenever the step's cached token changes (a new
  /// token, an invalidation, one taken from storage). A wrapper that caches the Token from
  /// get() may hand it out again while this reads the same and the token is fresh. 0 for
  /// an empty Step.
  uint64_t changes() const noexcept {
    const uint64_t *c = tokenforge_step_changes(ptr_.get());
    return c ? __atomic_load_n(c, __ATOMIC_ACQUIRE) : 0;
  }

  /// The C step handle, borrowed; NULL when empty.
  const tokenforge_step *capi() const noexcept { return ptr_.get(); }

 private:
  detail::Handle<tokenforge_step, tokenforge_step_free> ptr_;
};

class Pipeline {
 public:
  /// An empty pipeline (refresh margin 60 s, default lifetime 10 min).
  Pipeline() : ptr_(detail::require(tokenforge_pipeline_new(), ErrorCode::Panic, "tokenforge_pipeline_new")) {}

  /// Takes ownership of a C pipeline.
  explicit Pipeline(tokenforge_pipeline *owned) noexcept : ptr_(owned) {}

  Pipeline(Pipeline &&) noexcept = default;
  Pipeline &operator=(Pipeline &&) noexcept = default;

  /// A validated pipeline from JSON text (format in the README). Throws Error(Config) naming
  /// the step and field.
  static Pipeline from_json(const std::string &json) {
    tokenforge_pipeline *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_from_json(json.c_str(), &out, &err), &err);
    return Pipeline(out);
  }

  /// Adds a step (the pipeline keeps its own reference to `fetcher`). Throws Error(Config)
  /// when a step of that name exists.
  void add(const Fetcher &fetcher) {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_add(ptr_.get(), fetcher.capi(), &err), &err);
  }
  /// Throws Error(Config) for a missing dependency or a cycle; get checks the same.
  void validate() const {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_validate(ptr_.get(), &err), &err);
  }
  /// Loads tokens from `storage` under "<key_prefix>:<step>" (prefix default "tokenforge")
  /// and writes them after each fetch.
  void set_storage(const Storage &storage, const std::optional<std::string> &key_prefix = std::nullopt) {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_set_storage(ptr_.get(), storage.capi(), detail::c_str(key_prefix), &err), &err);
  }
  /// Renews a cached token when less than min(margin, half its lifetime) is left. Throws
  /// Error(InvalidArgument) when negative.
  void set_refresh_margin_ms(int64_t margin_ms) {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_set_refresh_margin_ms(ptr_.get(), margin_ms, &err), &err);
  }
  /// Lifetime of tokens with no known expiry and no TTL. Throws Error(InvalidArgument)
  /// unless positive.
  void set_default_lifetime_ms(int64_t lifetime_ms) {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_set_default_lifetime_ms(ptr_.get(), lifetime_ms, &err), &err);
  }
  /// Whether a token due for renewal but still valid is renewed in the background (true,
  /// the default) or by the caller that finds it due (false: the library starts no thread).
  void set_background_refresh(bool background) {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_set_background_refresh(ptr_.get(), background, &err), &err);
  }
  /// Sets the event hook, a callable `void(const Event &)` called once per event on the
  /// thread where it happened, replacing any earlier one. It must be quick and must not call
  /// this pipeline; what it throws is dropped.
  template <class F>
  void on_event(F &&hook) {
    using Box = std::decay_t<F>;
    static_assert(std::is_invocable_v<const Box &, const Event &>,
                  "an event hook is callable as void(const tokenforge::Event &)");
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_set_event_hook(ptr_.get(), detail::Callbacks::event_hook<Box>,
                                                     detail::Callbacks::box(std::forward<F>(hook)),
                                                     detail::Callbacks::free_box<Box>, &err),
                  &err);
  }

  /// The token of `step`: the cached one while fresh, otherwise fetched (after its stale
  /// dependencies) once for all concurrent callers. Throws Error(InvalidArgument) for an
  /// unknown step, Error(Config), Error(Dependency), Error(Timeout) or the fetch's error.
  Token get(const std::string &step) const {
    tokenforge_token *out = nullptr;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_get(ptr_.get(), step.c_str(), &out, &err), &err);
    return Token(out);
  }
  /// Adds a step while other threads use the pipeline (tokenforge_pipeline_add_live): the
  /// pipeline with it must be valid, or nothing changes (Error(Config)). Thread-safe.
  void add_live(const Fetcher &fetcher) const {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_add_live(ptr_.get(), fetcher.capi(), &err), &err);
  }
  /// Removes `step` and its cached and stored tokens while other threads use the pipeline.
  /// Throws Error(Config) while other steps depend on it, Error(InvalidArgument) for an
  /// unknown step. Thread-safe.
  void remove(const std::string &step) const {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_remove(ptr_.get(), step.c_str(), &err), &err);
  }
  /// A handle on `step` whose get skips the name lookup (the fastest cached get; see
  /// Step). Take it after configuring the pipeline: from then on add and the set_* calls
  /// throw Error(Config). Throws Error(InvalidArgument) for an unknown step, Error(Config)
  /// for a missing dependency or a cycle.
  Step step(const std::string &step) const;
  /// Drops the cached (and stored) token of `step` and of the steps depending on it.
  void invalidate(const std::string &step) const {
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_invalidate(ptr_.get(), step.c_str(), &err), &err);
  }
  /// As invalidate, but only while the cached token of `step` is `access_token` (so that
  /// many callers retrying after a 401 cause one refetch). True when it did.
  bool invalidate_if(const std::string &step, const std::string &access_token) const {
    bool invalidated = false;
    tokenforge_error *err = nullptr;
    detail::check(tokenforge_pipeline_invalidate_if(ptr_.get(), step.c_str(), access_token.c_str(), &invalidated, &err),
                  &err);
    return invalidated;
  }

  /// The C pipeline, borrowed; NULL when empty.
  const tokenforge_pipeline *capi() const noexcept { return ptr_.get(); }

 private:
  detail::Handle<tokenforge_pipeline, tokenforge_pipeline_free> ptr_;
};

inline Step Pipeline::step(const std::string &step) const {
  tokenforge_step *out = nullptr;
  tokenforge_error *err = nullptr;
  detail::check(tokenforge_pipeline_step(ptr_.get(), step.c_str(), &out, &err), &err);
  return Step(out);
}

/// Sends the library's log lines at `level` and more severe ones (one per pipeline event,
/// never a secret; see tokenforge_set_log_callback) to `callback(LogLevel, const std::string
/// &line)` instead of stderr. Process-wide; the callback may run on library threads at the
/// same time as on the caller's, and an exception it throws is dropped. Replaces any earlier
/// callback (which is destroyed once no call uses it).
template <class F>
void set_log_callback(LogLevel level, F callback) {
  using Box = std::decay_t<F>;
  detail::check(tokenforge_set_log_callback(static_cast<tokenforge_log_level>(level), detail::Callbacks::log_line<Box>,
                                            detail::Callbacks::box(std::move(callback)),
                                            detail::Callbacks::free_box<Box>),
                "tokenforge", "set_log_callback");
}

/// Back to the TOKENFORGE_LOG environment variable (lines on stderr, or none).
inline void reset_log_callback() {
  detail::check(tokenforge_set_log_callback(TOKENFORGE_LOG_LEVEL_OFF, nullptr, nullptr, nullptr), "tokenforge",
                "reset_log_callback");
}

/// Renews a token by the OAuth2 refresh grant at `token_url` (HTTP Basic with
/// `client_secret`, a public client without). `timeout_ms` 0 means 30000. Thread-safe;
/// throws Error on failure (e.g. ErrorCode::OAuth "invalid_grant").
inline Token oauth2_refresh(const std::string &token_url, const std::string &refresh_token,
                            const std::string &client_id,
                            const std::optional<std::string> &client_secret = std::nullopt,
                            uint64_t timeout_ms = 0) {
  tokenforge_token *out = nullptr;
  tokenforge_error *err = nullptr;
  detail::check(tokenforge_oauth2_refresh(token_url.c_str(), refresh_token.c_str(), client_id.c_str(),
                                          detail::c_str(client_secret), timeout_ms, &out, &err),
                &err);
  return Token(out);
}

}  // namespace tokenforge

#endif  // TOKENFORGE_HPP
