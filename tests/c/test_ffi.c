/* C-level tests of the tokenforge shared library: bad input of every kind, ownership and
   error fields, against the loopback server at $TOKENFORGE_URL. Prints "N passed, N failed". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenforge.h"

#define CHECK_RC(expr, want) CHECK((expr) == (want))

static const char BAD_UTF8[] = {'a', (char)0xff, (char)0xfe, 0};

/* Builds b; on failure stores the error's code in *code and returns NULL. */
static tokenforge_fetcher *build(tokenforge_fetcher_builder *b, tokenforge_result *code) {
  tokenforge_fetcher *f = NULL;
  tokenforge_error *err = NULL;
  *code = tokenforge_fetcher_builder_build(b, &f, &err);
  if (*code != TOKENFORGE_RESULT_OK) {
    CHECK(err != NULL && tokenforge_error_code(err) == *code);
    CHECK(f == NULL);
  }
  tokenforge_error_free(err);
  return f;
}

/* Fetches from endpoint with one attempt; returns the code and leaves the error in *err_out. */
static tokenforge_result fetch_once(const char *endpoint, tokenforge_error **err_out) {
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("step", base_url(), endpoint);
  tokenforge_fetcher_builder_set_retry(b, 1, 0);
  tokenforge_fetcher_builder_set_timeout_ms(b, 5000);
  tokenforge_result code;
  tokenforge_fetcher *f = build(b, &code);
  tokenforge_token *t = NULL;
  if (f) code = tokenforge_fetcher_fetch(f, NULL, &t, err_out);
  if (code != TOKENFORGE_RESULT_OK) CHECK(t == NULL);
  tokenforge_token_free(t);
  tokenforge_fetcher_free(f);
  return code;
}

static void test_basics(void) {
  CHECK(strcmp(tokenforge_result_name(TOKENFORGE_RESULT_TIMEOUT), "TIMEOUT") == 0);
  CHECK(strcmp(tokenforge_result_name(TOKENFORGE_RESULT_TLS), "TLS") == 0);
  CHECK(strcmp(tokenforge_result_name((tokenforge_result)12345), "UNKNOWN") == 0);
  CHECK(strchr(tokenforge_version(), '.') != NULL);
  /* The header's version macros are the library's version. */
  CHECK(strcmp(tokenforge_version(), TOKENFORGE_VERSION) == 0);
  {
    char parts[64];
    snprintf(parts, sizeof parts, "%d.%d.%d", TOKENFORGE_VERSION_MAJOR, TOKENFORGE_VERSION_MINOR,
             TOKENFORGE_VERSION_PATCH);
    CHECK(strcmp(parts, TOKENFORGE_VERSION) == 0);
  }
  tokenforge_string_free(NULL);
  tokenforge_error_free(NULL);
  tokenforge_token_free(NULL);
  tokenforge_context_free(NULL);
  tokenforge_fetcher_free(NULL);
  tokenforge_fetcher_builder_free(NULL);
  tokenforge_storage_free(NULL);
}

static void test_errors(void) {
  tokenforge_error *e = tokenforge_error_new(TOKENFORGE_RESULT_CALLBACK, "hook said no");
  CHECK(e != NULL);
  CHECK_RC(tokenforge_error_code(e), TOKENFORGE_RESULT_CALLBACK);
  CHECK(strcmp(tokenforge_error_message(e), "hook said no") == 0);
  CHECK(tokenforge_error_http_status(e) == 0);
  CHECK(tokenforge_error_step(e) == NULL);
  CHECK(tokenforge_error_oauth_error(e) == NULL);
  CHECK(tokenforge_error_retry_after_ms(e) == -1);
  CHECK(!tokenforge_error_is_retryable(e));
  tokenforge_error_free(e);
  CHECK(tokenforge_error_new(TOKENFORGE_RESULT_OK, "x") == NULL);
  CHECK(tokenforge_error_new((tokenforge_result)77, "x") == NULL);
  CHECK(tokenforge_error_new(TOKENFORGE_RESULT_CALLBACK, NULL) == NULL);
  CHECK(tokenforge_error_new(TOKENFORGE_RESULT_CALLBACK, BAD_UTF8) == NULL);
  CHECK(tokenforge_error_message(NULL) != NULL);
  CHECK_RC(tokenforge_error_code(NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
}

static void test_tokens(void) {
  CHECK(tokenforge_token_new(NULL, NULL, -1, NULL) == NULL);
  CHECK(tokenforge_token_new("", NULL, -1, NULL) == NULL);
  CHECK(tokenforge_token_new(BAD_UTF8, NULL, -1, NULL) == NULL);
  CHECK(tokenforge_token_new("a", BAD_UTF8, -1, NULL) == NULL);
  CHECK(tokenforge_token_new("a\r\nX-Evil: 1", NULL, -1, NULL) == NULL);
  tokenforge_token *t = tokenforge_token_new("abc", NULL, TOKENFORGE_NO_EXPIRY, "r1");
  CHECK(t != NULL);
  CHECK(strcmp(tokenforge_token_token_type(t), "Bearer") == 0);
  CHECK(strcmp(tokenforge_token_authorization(t), "Bearer abc") == 0);
  CHECK(strcmp(tokenforge_token_refresh_token(t), "r1") == 0);
  CHECK(tokenforge_token_scope(t) == NULL);
  CHECK(tokenforge_token_expires_at_ms(t) == TOKENFORGE_NO_EXPIRY);
  CHECK(!tokenforge_token_is_expired(t, 1000000));
  CHECK(tokenforge_token_extra(t, "x") == NULL);
  CHECK(tokenforge_token_extra(t, NULL) == NULL);
  /* Extra fields for custom fetchers: an id_token, a scope. */
  tokenforge_token *x = tokenforge_token_with_extra(t, "id_token", "eyJ.x.y");
  tokenforge_token *y = tokenforge_token_with_extra(x, "scope", "read write");
  CHECK(x != NULL && y != NULL);
  CHECK(y && strcmp(tokenforge_token_extra(y, "id_token"), "eyJ.x.y") == 0);
  CHECK(y && strcmp(tokenforge_token_scope(y), "read write") == 0);
  /* Listing them: names in the order they were added, NULL past the end. */
  CHECK(tokenforge_token_extra_count(t) == 0 && tokenforge_token_extra_name(t, 0) == NULL);
  CHECK(tokenforge_token_extra_count(y) == 2);
  CHECK(y && strcmp(tokenforge_token_extra_name(y, 0), "id_token") == 0);
  CHECK(y && strcmp(tokenforge_token_extra_name(y, 1), "scope") == 0);
  CHECK(tokenforge_token_extra_name(y, 2) == NULL && tokenforge_token_extra_name(y, (size_t)-1) == NULL);
  CHECK(tokenforge_token_extra_count(NULL) == 0 && tokenforge_token_extra_name(NULL, 0) == NULL);
  CHECK(tokenforge_token_extra(t, "id_token") == NULL); /* t itself is unchanged */
  CHECK(tokenforge_token_with_extra(t, "", "v") == NULL);
  CHECK(tokenforge_token_with_extra(t, "k", NULL) == NULL);
  CHECK(tokenforge_token_with_extra(NULL, "k", "v") == NULL);
  tokenforge_token_free(x);
  tokenforge_token_free(y);
  tokenforge_token *c = tokenforge_token_clone(t);
  tokenforge_token_free(t);
  CHECK(strcmp(tokenforge_token_access_token(c), "abc") == 0);
  tokenforge_token_free(c);
  tokenforge_token *old = tokenforge_token_new("abc", "MAC", 1000, NULL);
  CHECK(tokenforge_token_is_expired(old, 0));
  CHECK(strcmp(tokenforge_token_authorization(old), "MAC abc") == 0);
  tokenforge_token_free(old);
  CHECK(tokenforge_token_is_expired(NULL, 0));
  CHECK(tokenforge_token_access_token(NULL) == NULL);
  CHECK(tokenforge_token_clone(NULL) == NULL);
}

static void test_context(void) {
  tokenforge_context *ctx = tokenforge_context_new();
  tokenforge_token *t = tokenforge_token_new("abc", NULL, -1, NULL);
  tokenforge_error *err = NULL;
  CHECK_RC(tokenforge_context_set(ctx, "a", t, &err), TOKENFORGE_RESULT_OK);
  CHECK_RC(tokenforge_context_set(ctx, NULL, t, &err), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(err != NULL && strstr(tokenforge_error_message(err), "name") != NULL);
  tokenforge_error_free(err);
  CHECK_RC(tokenforge_context_set(ctx, BAD_UTF8, t, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_context_set(ctx, "b", NULL, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_context_set(ctx, "", t, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_context_set(NULL, "b", t, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_token_free(t); /* the context holds its own copy */
  CHECK(tokenforge_context_len(ctx) == 1);
  CHECK(strcmp(tokenforge_token_access_token(tokenforge_context_get(ctx, "a")), "abc") == 0);
  CHECK(tokenforge_context_get(ctx, "b") == NULL);
  CHECK(tokenforge_context_get(ctx, NULL) == NULL);
  CHECK(tokenforge_context_get(NULL, "a") == NULL);
  CHECK(tokenforge_context_len(NULL) == 0);
  tokenforge_context_free(ctx);
}

static void test_storage(void) {
  tokenforge_storage *s = tokenforge_storage_new_memory();
  tokenforge_token *t = tokenforge_token_new("abc", NULL, -1, NULL);
  tokenforge_token *out = (tokenforge_token *)&out; /* must be overwritten with NULL */
  CHECK_RC(tokenforge_storage_retrieve(s, "k", &out, NULL), TOKENFORGE_RESULT_OK);
  CHECK(out == NULL);
  CHECK_RC(tokenforge_storage_store(s, "k", t, NULL), TOKENFORGE_RESULT_OK);
  tokenforge_token_free(t);
  CHECK_RC(tokenforge_storage_retrieve(s, "k", &out, NULL), TOKENFORGE_RESULT_OK);
  CHECK(out != NULL && strcmp(tokenforge_token_access_token(out), "abc") == 0);
  tokenforge_token_free(out);
  CHECK_RC(tokenforge_storage_delete(s, "k", NULL), TOKENFORGE_RESULT_OK);
  CHECK_RC(tokenforge_storage_delete(s, "k", NULL), TOKENFORGE_RESULT_OK);
  CHECK_RC(tokenforge_storage_store(s, NULL, NULL, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_storage_retrieve(s, BAD_UTF8, &out, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_storage_retrieve(s, "k", NULL, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_storage_delete(NULL, "k", NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_storage_free(s);
}

static void test_builder_bad_input(void) {
  const char *u = base_url();
  CHECK(tokenforge_fetcher_builder_new_body(NULL, u, "/t") == NULL);
  CHECK(tokenforge_fetcher_builder_new_body("s", NULL, "/t") == NULL);
  CHECK(tokenforge_fetcher_builder_new_header("s", u, BAD_UTF8) == NULL);
  CHECK(tokenforge_fetcher_builder_new_client_credentials("s", u, "id", NULL, NULL) == NULL);
  CHECK(tokenforge_fetcher_builder_new_client_credentials("s", u, "id", "x", BAD_UTF8) == NULL);

  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("s", u, "/echo");
  CHECK_RC(tokenforge_fetcher_builder_set_method(b, "DELETE"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_method(b, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_method(NULL, "GET"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_add_request_header(b, "X-A\r\nX-B", "v"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_add_request_header(b, "X-A", "v\r\nX-B: w"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_add_request_header(b, "X A", "v"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_add_request_header(b, BAD_UTF8, "v"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_add_request_data(b, "k", BAD_UTF8), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_add_query_param(b, "", "v"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_content_type(b, (tokenforge_content_type)7), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_token_header(b, "X-T"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_ttl_ms(b, -5), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_timeout_ms(b, 0), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_retry(b, 0, 1), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_basic_auth(b, "a:b", "p"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_client_auth(b, "client_secret_magic"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_client_auth(b, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_add_dependency(b, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  /* After all that the builder still works. */
  CHECK_RC(tokenforge_fetcher_builder_set_method(b, "get"), TOKENFORGE_RESULT_OK);
  tokenforge_result code;
  tokenforge_fetcher *f = build(b, &code);
  CHECK(f != NULL);
  tokenforge_token *t = NULL;
  CHECK_RC(tokenforge_fetcher_fetch(f, NULL, &t, NULL), TOKENFORGE_RESULT_OK);
  CHECK(t != NULL && strcmp(tokenforge_token_extra(t, "method"), "GET") == 0);
  tokenforge_token_free(t);
  CHECK_RC(tokenforge_fetcher_fetch(f, NULL, NULL, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_fetch(NULL, NULL, &t, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_fetcher_free(f);

  /* Build consumes the builder even when it fails or out is NULL. */
  CHECK_RC(tokenforge_fetcher_builder_build(NULL, &f, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_build(tokenforge_fetcher_builder_new_body("s", u, "/t"), NULL, NULL),
           TOKENFORGE_RESULT_INVALID_ARGUMENT);
  const char *bad_urls[] = {"", "not a url", "ftp://127.0.0.1/x", "127.0.0.1:80", "http://"};
  for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
    build(tokenforge_fetcher_builder_new_body("s", bad_urls[i], ""), &code);
    CHECK_RC(code, TOKENFORGE_RESULT_INVALID_ARGUMENT);
  }
  build(tokenforge_fetcher_builder_new_body("", u, "/t"), &code);
  CHECK_RC(code, TOKENFORGE_RESULT_INVALID_ARGUMENT);

  b = tokenforge_fetcher_builder_new_body("s", u, "/t");
  tokenforge_fetcher_builder_add_request_header(b, "X-App", "{{app.access_token}}");
  build(b, &code);
  CHECK_RC(code, TOKENFORGE_RESULT_CONFIG);
}

static void test_fetcher_accessors(void) {
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("user", base_url(), "/echo");
  tokenforge_fetcher_builder_add_dependency(b, "app");
  tokenforge_fetcher_builder_add_dependency(b, "device");
  tokenforge_fetcher_builder_add_request_header(b, "X-App", "{{app.access_token}}");
  tokenforge_result code;
  tokenforge_fetcher *f = build(b, &code);
  CHECK(f != NULL);
  CHECK(strcmp(tokenforge_fetcher_name(f), "user") == 0);
  CHECK(tokenforge_fetcher_dependency_count(f) == 2);
  CHECK(strcmp(tokenforge_fetcher_dependency(f, 1), "device") == 0);
  CHECK(tokenforge_fetcher_dependency(f, 2) == NULL);
  CHECK(tokenforge_fetcher_name(NULL) == NULL);

  tokenforge_token *t = NULL;
  tokenforge_error *err = NULL;
  CHECK_RC(tokenforge_fetcher_fetch(f, NULL, &t, &err), TOKENFORGE_RESULT_DEPENDENCY);
  CHECK(err != NULL && strcmp(tokenforge_error_step(err), "user") == 0);
  tokenforge_error_free(err);

  tokenforge_context *ctx = tokenforge_context_new();
  tokenforge_token *app = tokenforge_token_new("app-secret-token", NULL, -1, NULL);
  tokenforge_context_set(ctx, "app", app, NULL);
  tokenforge_context_set(ctx, "device", app, NULL);
  tokenforge_token_free(app);
  CHECK_RC(tokenforge_fetcher_fetch(f, ctx, &t, NULL), TOKENFORGE_RESULT_OK);
  CHECK(t != NULL && strcmp(tokenforge_token_extra(t, "header.x-app"), "app-secret-token") == 0);
  tokenforge_token_free(t);
  tokenforge_context_free(ctx);
  tokenforge_fetcher_free(f);
}

static void test_responses(void) {
  struct { const char *endpoint; tokenforge_result code; int status; } cases[] = {
      {"/malformed/not-json", TOKENFORGE_RESULT_RESPONSE, 200},
      {"/malformed/array", TOKENFORGE_RESULT_RESPONSE, 200},
      {"/malformed/empty", TOKENFORGE_RESULT_RESPONSE, 200},
      {"/malformed/null-token", TOKENFORGE_RESULT_RESPONSE, 200},
      {"/malformed/empty-token", TOKENFORGE_RESULT_RESPONSE, 200},
      {"/malformed/number-token", TOKENFORGE_RESULT_RESPONSE, 200},
      {"/malformed/html", TOKENFORGE_RESULT_RESPONSE, 200},
      {"/malformed/truncated", TOKENFORGE_RESULT_TRANSPORT, 0},
      {"/big/2000000", TOKENFORGE_RESULT_RESPONSE, 0},
      {"/close", TOKENFORGE_RESULT_TRANSPORT, 0},
      {"/redirect", TOKENFORGE_RESULT_HTTP_STATUS, 302},
      {"/status/500", TOKENFORGE_RESULT_HTTP_STATUS, 500},
      {"/oauth-error/400/invalid_scope", TOKENFORGE_RESULT_OAUTH, 400},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tokenforge_error *err = NULL;
    tokenforge_result code = fetch_once(cases[i].endpoint, &err);
    if (code != cases[i].code) fprintf(stderr, "  %s gave %s\n", cases[i].endpoint, tokenforge_result_name(code));
    CHECK_RC(code, cases[i].code);
    CHECK(err != NULL && tokenforge_error_http_status(err) == cases[i].status);
    CHECK(err != NULL && strcmp(tokenforge_error_step(err), "step") == 0);
    tokenforge_error_free(err);
  }
  tokenforge_error *err = NULL;
  CHECK_RC(fetch_once("/oauth-error/401/invalid_client", &err), TOKENFORGE_RESULT_OAUTH);
  CHECK(strcmp(tokenforge_error_oauth_error(err), "invalid_client") == 0);
  CHECK(strcmp(tokenforge_error_oauth_description(err), "described invalid_client") == 0);
  tokenforge_error_free(err);
}

static void test_refused_and_refresh(void) {
  tokenforge_token *t = NULL;
  tokenforge_error *err = NULL;
  /* Port 1 on loopback: nothing listens there. */
  CHECK_RC(tokenforge_oauth2_refresh("http://127.0.0.1:1/token", "rt", "id", NULL, 2000, &t, &err),
           TOKENFORGE_RESULT_TRANSPORT);
  CHECK(err != NULL && tokenforge_error_is_retryable(err));
  CHECK(t == NULL);
  tokenforge_error_free(err);
  CHECK_RC(tokenforge_oauth2_refresh(NULL, "rt", "id", NULL, 0, &t, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_oauth2_refresh("http://127.0.0.1:1/t", BAD_UTF8, "id", NULL, 0, &t, NULL),
           TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_oauth2_refresh("nope", "rt", "id", NULL, 0, &t, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);

  char url[512];
  snprintf(url, sizeof url, "%s/oauth/token", base_url());
  CHECK_RC(tokenforge_oauth2_refresh(url, "rt-static", "id", "id-secret", 0, &t, NULL), TOKENFORGE_RESULT_OK);
  CHECK(t != NULL && tokenforge_token_expires_at_ms(t) > 0);
  tokenforge_token_free(t);
  t = NULL;
  CHECK_RC(tokenforge_oauth2_refresh(url, "rt-unknown", "id", NULL, 0, &t, &err), TOKENFORGE_RESULT_OAUTH);
  CHECK(strcmp(tokenforge_error_oauth_error(err), "invalid_grant") == 0);
  CHECK(strstr(tokenforge_error_message(err), "rt-unknown") == NULL);
  tokenforge_error_free(err);
}

static void *fetch_many(void *arg) {
  const tokenforge_fetcher *f = arg;
  for (int i = 0; i < 20; i++) {
    tokenforge_token *t = NULL;
    if (tokenforge_fetcher_fetch(f, NULL, &t, NULL) != TOKENFORGE_RESULT_OK) return (void *)1;
    tokenforge_token_free(t);
  }
  return NULL;
}

static void test_threads(void) {
  tokenforge_result code;
  tokenforge_fetcher *f = build(tokenforge_fetcher_builder_new_body("s", base_url(), "/echo"), &code);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, fetch_many, f);
  for (int i = 0; i < 4; i++) {
    void *r = NULL;
    pthread_join(th[i], &r);
    CHECK(r == NULL);
  }
  tokenforge_fetcher_free(f);
}

/* The identity-provider options: bad input of each kind, and files checked by build. */
static void test_identity_bad_input(void) {
  const char *u = base_url();
  const char *key = TOKENFORGE_SOURCE_DIR "/tests/data/test-rsa-key.pem";
  CHECK(tokenforge_fetcher_builder_new_jwt_bearer("s", u, NULL, NULL, NULL) == NULL);
  CHECK(tokenforge_fetcher_builder_new_jwt_bearer("s", u, BAD_UTF8, NULL, NULL) == NULL);
  CHECK(tokenforge_fetcher_builder_new_token_exchange("s", u, NULL, NULL) == NULL);
  CHECK(tokenforge_fetcher_builder_new_token_exchange(NULL, u, "{{a.access_token}}", NULL) == NULL);
  CHECK_RC(tokenforge_fetcher_builder_set_ca_file(NULL, "/ca.pem"), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_jwt_certificate(NULL, "/c.pem"), TOKENFORGE_RESULT_INVALID_ARGUMENT);

  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_client_credentials("s", u, "id", "x", NULL);
  CHECK_RC(tokenforge_fetcher_builder_set_ca_file(b, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_ca_file(b, ""), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_client_cert(b, "/c.pem", NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_client(b, NULL, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_jwt_key(b, key, "none", NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_jwt_key(b, key, "HS256", NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_jwt_key(b, key, NULL, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_jwt_certificate(b, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_jwt_certificate(b, ""), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_jwt_certificate(b, BAD_UTF8), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_issuer(b, NULL), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK_RC(tokenforge_fetcher_builder_set_assertion_lifetime_ms(b, 3600000), TOKENFORGE_RESULT_INVALID_ARGUMENT);
  /* A certificate without its key is a CONFIG error of build. */
  CHECK_RC(tokenforge_fetcher_builder_set_jwt_certificate(b, key), TOKENFORGE_RESULT_OK);
  tokenforge_result code;
  build(b, &code);
  CHECK_RC(code, TOKENFORGE_RESULT_CONFIG);

  /* Files are read by build: a missing one, and a key where a certificate belongs. */
  const char *certs[] = {"/nonexistent/app.pem", key};
  const char *why[] = {"cannot read", "holds no certificate"};
  for (int i = 0; i < 2; i++) {
    b = tokenforge_fetcher_builder_new_client_credentials("s", u, "id", "x", NULL);
    CHECK_RC(tokenforge_fetcher_builder_set_client_auth(b, "private_key_jwt"), TOKENFORGE_RESULT_OK);
    CHECK_RC(tokenforge_fetcher_builder_set_jwt_key(b, key, "RS256", "k1"), TOKENFORGE_RESULT_OK);
    CHECK_RC(tokenforge_fetcher_builder_set_jwt_certificate(b, certs[i]), TOKENFORGE_RESULT_OK);
    tokenforge_fetcher *f = NULL;
    tokenforge_error *err = NULL;
    CHECK_RC(tokenforge_fetcher_builder_build(b, &f, &err), TOKENFORGE_RESULT_INVALID_ARGUMENT);
    CHECK(f == NULL && err != NULL);
    CHECK(err && strstr(tokenforge_error_message(err), certs[i]) && strstr(tokenforge_error_message(err), why[i]));
    tokenforge_error_free(err);
  }
  b = tokenforge_fetcher_builder_new_body("s", u, "/echo");
  CHECK_RC(tokenforge_fetcher_builder_set_ca_file(b, "/nonexistent/ca.pem"), TOKENFORGE_RESULT_OK);
  build(b, &code);
  CHECK_RC(code, TOKENFORGE_RESULT_INVALID_ARGUMENT);
}

int main(void) {
  test_basics();
  test_errors();
  test_tokens();
  test_context();
  test_storage();
  test_builder_bad_input();
  test_identity_bad_input();
  test_fetcher_accessors();
  test_responses();
  test_refused_and_refresh();
  test_threads();
  return summary("ffi");
}
