/* C-level tests of hooks, custom fetchers and custom storage against the real shared
   library and the loopback server at $TOKENFORGE_URL. Prints "N passed, N failed". */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tokenforge.h"


/* ---- userdata that counts how often it is freed ---- */
typedef struct {
  atomic_int frees;
  atomic_int calls;
  int mode; /* what the hook does, per test */
} counter;

static void free_counter(void *p) { atomic_fetch_add(&((counter *)p)->frees, 1); }

static tokenforge_fetcher *build(tokenforge_fetcher_builder *b) {
  tokenforge_fetcher *f = NULL;
  tokenforge_error *err = NULL;
  if (tokenforge_fetcher_builder_build(b, &f, &err) != TOKENFORGE_RESULT_OK) {
    fprintf(stderr, "build: %s\n", tokenforge_error_message(err));
    tokenforge_error_free(err);
  }
  return f;
}


/* ---- request hook ---- */
static tokenforge_result shaping_hook(void *userdata, const tokenforge_context *ctx, tokenforge_request *req) {
  counter *c = userdata;
  atomic_fetch_add(&c->calls, 1);
  if (c->mode == 1) return TOKENFORGE_RESULT_CALLBACK;       /* refuse */
  if (c->mode == 2) return (tokenforge_result)12345;         /* garbage */
  if (strcmp(tokenforge_request_method(req), "POST") != 0) return TOKENFORGE_RESULT_CALLBACK;
  if (strstr(tokenforge_request_url(req), "/echo") == NULL) return TOKENFORGE_RESULT_CALLBACK;
  if (tokenforge_request_header(req, "x-static") == NULL) return TOKENFORGE_RESULT_CALLBACK;
  if (tokenforge_request_header(req, "X-Missing") != NULL) return TOKENFORGE_RESULT_CALLBACK;
  if (tokenforge_request_set_header(req, "X-Bad", "a\r\nb") != TOKENFORGE_RESULT_INVALID_ARGUMENT) return TOKENFORGE_RESULT_CALLBACK;
  if (tokenforge_request_set_header(NULL, "X-A", "b") != TOKENFORGE_RESULT_INVALID_ARGUMENT) return TOKENFORGE_RESULT_CALLBACK;
  tokenforge_request_remove_header(req, "X-Static");
  if (ctx != NULL) {
    const tokenforge_token *app = tokenforge_context_get(ctx, "app");
    tokenforge_request_set_header(req, "X-App-Token", tokenforge_token_access_token(app));
    tokenforge_request_set_data(req, "app_token", tokenforge_token_access_token(app));
  }
  tokenforge_request_remove_data(req, "secret");
  tokenforge_request_set_query(req, "hooked", "yes");
  return TOKENFORGE_RESULT_OK;
}

static void test_request_hook(void) {
  counter c = {0};
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("user", base_url(), "/echo");
  tokenforge_fetcher_builder_add_request_header(b, "X-Static", "1");
  tokenforge_fetcher_builder_add_request_data(b, "secret", "s");
  tokenforge_fetcher_builder_add_request_data(b, "username", "u");
  CHECK(tokenforge_fetcher_builder_set_request_hook(b, shaping_hook, &c, free_counter) == TOKENFORGE_RESULT_OK);
  tokenforge_fetcher *f = build(b);

  tokenforge_context *ctx = tokenforge_context_new();
  tokenforge_token *app = tokenforge_token_new("app-7", NULL, -1, NULL);
  tokenforge_context_set(ctx, "app", app, NULL);
  tokenforge_token_free(app);
  tokenforge_token *t = NULL;
  CHECK(tokenforge_fetcher_fetch(f, ctx, &t, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(t != NULL && strcmp(tokenforge_token_extra(t, "header.x-app-token"), "app-7") == 0);
  CHECK(t != NULL && tokenforge_token_extra(t, "header.x-static") == NULL);
  CHECK(t != NULL && strcmp(tokenforge_token_extra(t, "body"), "username=u&app_token=app-7") == 0);
  CHECK(t != NULL && strcmp(tokenforge_token_extra(t, "query"), "hooked=yes") == 0);
  tokenforge_token_free(t);
  tokenforge_context_free(ctx);

  /* A refusing hook and a garbage-returning hook abort the fetch: CALLBACK, nothing sent. */
  long before = server_count("/echo");
  for (int mode = 1; mode <= 2; mode++) {
    c.mode = mode;
    tokenforge_error *err = NULL;
    t = NULL;
    CHECK(tokenforge_fetcher_fetch(f, NULL, &t, &err) == TOKENFORGE_RESULT_CALLBACK);
    CHECK(t == NULL && err != NULL && strcmp(tokenforge_error_step(err), "user") == 0);
    CHECK(err != NULL && strstr(tokenforge_error_message(err), "not sent") != NULL);
    tokenforge_error_free(err);
  }
  CHECK(server_count("/echo") == before);
  CHECK(atomic_load(&c.calls) == 3);
  CHECK(atomic_load(&c.frees) == 0);
  tokenforge_fetcher_free(f);
  CHECK(atomic_load(&c.frees) == 1);
}

/* ---- raw body ---- */
static tokenforge_result body_hook(void *userdata, const tokenforge_context *ctx, tokenforge_request *req) {
  (void)userdata;
  (void)ctx;
  static const uint8_t xml[] = "<auth user=\"u\"/>";
  if (tokenforge_request_set_body(req, NULL, 3, NULL) != TOKENFORGE_RESULT_INVALID_ARGUMENT) return TOKENFORGE_RESULT_CALLBACK;
  return tokenforge_request_set_body(req, xml, sizeof xml - 1, "application/xml");
}

static void test_raw_body(void) {
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("raw", base_url(), "/echo");
  tokenforge_fetcher_builder_set_request_hook(b, body_hook, NULL, NULL);
  tokenforge_fetcher *f = build(b);
  tokenforge_token *t = NULL;
  CHECK(tokenforge_fetcher_fetch(f, NULL, &t, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(t != NULL && strcmp(tokenforge_token_extra(t, "body"), "<auth user=\"u\"/>") == 0);
  CHECK(t != NULL && strcmp(tokenforge_token_extra(t, "content_type"), "application/xml") == 0);
  tokenforge_token_free(t);
  tokenforge_fetcher_free(f);
}

/* ---- userdata ownership ---- */
static void test_userdata_counting(void) {
  counter a = {0}, b2 = {0}, c = {0}, d = {0};
  /* Abandoned builder. */
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("x", base_url(), "/echo");
  tokenforge_fetcher_builder_set_request_hook(b, shaping_hook, &a, free_counter);
  tokenforge_fetcher_builder_free(b);
  CHECK(atomic_load(&a.frees) == 1);
  /* Replaced hook: the old userdata goes at once, the new one with the fetcher. */
  b = tokenforge_fetcher_builder_new_body("x", base_url(), "/echo");
  tokenforge_fetcher_builder_set_request_hook(b, shaping_hook, &a, free_counter);
  tokenforge_fetcher_builder_set_request_hook(b, shaping_hook, &b2, free_counter);
  CHECK(atomic_load(&a.frees) == 2);
  tokenforge_fetcher *f = NULL;
  CHECK(tokenforge_fetcher_builder_build(b, &f, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(atomic_load(&b2.frees) == 0);
  tokenforge_fetcher_free(f);
  CHECK(atomic_load(&b2.frees) == 1);
  /* A refused hook is freed at once; a failed build (bad URL) frees what the builder held. */
  b = tokenforge_fetcher_builder_new_body("x", "not a url", "");
  tokenforge_fetcher_builder_set_error_hook(b, NULL, &c, free_counter);
  CHECK(atomic_load(&c.frees) == 1);
  tokenforge_fetcher_builder_set_request_hook(b, shaping_hook, &c, free_counter);
  CHECK(tokenforge_fetcher_builder_build(b, &f, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(atomic_load(&c.frees) == 2);
  /* NULL builder: the userdata is still freed, once. */
  CHECK(tokenforge_fetcher_builder_set_request_hook(NULL, shaping_hook, &d, free_counter) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(atomic_load(&d.frees) == 1);
}

/* ---- error hook ---- */
static void error_hook(void *userdata, const tokenforge_error *e, const tokenforge_context *ctx) {
  counter *c = userdata;
  atomic_fetch_add(&c->calls, 1);
  if (tokenforge_error_code(e) == TOKENFORGE_RESULT_HTTP_STATUS && tokenforge_error_http_status(e) == 503 &&
      strcmp(tokenforge_error_step(e), "flaky") == 0 && ctx != NULL && tokenforge_context_len(ctx) == 0) {
    c->mode = 1; /* saw what it should */
  }
}

static void test_error_hook(void) {
  counter c = {0};
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("flaky", base_url(), "/flaky/errorhook/100");
  tokenforge_fetcher_builder_set_retry(b, 2, 1);
  tokenforge_fetcher_builder_set_error_hook(b, error_hook, &c, free_counter);
  tokenforge_fetcher *f = build(b);
  tokenforge_context *ctx = tokenforge_context_new();
  tokenforge_token *t = NULL;
  CHECK(tokenforge_fetcher_fetch(f, ctx, &t, NULL) == TOKENFORGE_RESULT_HTTP_STATUS);
  CHECK(atomic_load(&c.calls) == 1);
  CHECK(c.mode == 1);
  tokenforge_context_free(ctx);
  tokenforge_fetcher_free(f);
  CHECK(atomic_load(&c.frees) == 1);
}

/* ---- custom fetcher ---- */
static tokenforge_result custom_fetch(void *userdata, const tokenforge_context *ctx, tokenforge_token **out, tokenforge_error **err) {
  counter *c = userdata;
  atomic_fetch_add(&c->calls, 1);
  switch (c->mode) {
    case 0: {
      const tokenforge_token *dev = tokenforge_context_get(ctx, "device");
      char value[128];
      snprintf(value, sizeof value, "custom-%s", tokenforge_token_access_token(dev));
      *out = tokenforge_token_new(value, "Custom", TOKENFORGE_NO_EXPIRY, NULL);
      return TOKENFORGE_RESULT_OK;
    }
    case 1:
      *err = tokenforge_error_new(TOKENFORGE_RESULT_OAUTH, "proprietary auth said no");
      return TOKENFORGE_RESULT_OAUTH;
    case 2:
      return TOKENFORGE_RESULT_OK; /* OK without a token */
    case 3:
      *out = tokenforge_token_new("leak-me-not", NULL, -1, NULL); /* garbage code, token given */
      return (tokenforge_result)-7;
    default:
      return TOKENFORGE_RESULT_TRANSPORT; /* failure without error object */
  }
}

static void test_custom_fetcher(void) {
  counter c = {0};
  const char *deps[] = {"device"};
  tokenforge_fetcher *f = NULL;
  tokenforge_error *err = NULL;
  CHECK(tokenforge_fetcher_new_custom("custom", deps, 1, 3600000, custom_fetch, &c, free_counter, &f, &err) ==
        TOKENFORGE_RESULT_OK);
  CHECK(tokenforge_fetcher_dependency_count(f) == 1);
  tokenforge_context *ctx = tokenforge_context_new();
  tokenforge_token *dev = tokenforge_token_new("d1", NULL, -1, NULL);
  tokenforge_context_set(ctx, "device", dev, NULL);
  tokenforge_token_free(dev);

  tokenforge_token *t = NULL;
  CHECK(tokenforge_fetcher_fetch(f, NULL, &t, NULL) == TOKENFORGE_RESULT_DEPENDENCY);
  CHECK(atomic_load(&c.calls) == 0);
  CHECK(tokenforge_fetcher_fetch(f, ctx, &t, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(t != NULL && strcmp(tokenforge_token_authorization(t), "Custom custom-d1") == 0);
  CHECK(t != NULL && tokenforge_token_expires_at_ms(t) > 0); /* the TTL applies */
  tokenforge_token_free(t);

  tokenforge_result want[] = {TOKENFORGE_RESULT_OK, TOKENFORGE_RESULT_OAUTH, TOKENFORGE_RESULT_CALLBACK,
                              TOKENFORGE_RESULT_CALLBACK, TOKENFORGE_RESULT_TRANSPORT};
  for (int mode = 1; mode <= 4; mode++) {
    c.mode = mode;
    t = NULL;
    err = NULL;
    CHECK(tokenforge_fetcher_fetch(f, ctx, &t, &err) == want[mode]);
    CHECK(t == NULL && err != NULL && tokenforge_error_code(err) == want[mode]);
    CHECK(err != NULL && strcmp(tokenforge_error_step(err), "custom") == 0);
    if (mode == 1) CHECK(strcmp(tokenforge_error_message(err), "proprietary auth said no") == 0);
    tokenforge_error_free(err);
  }
  tokenforge_context_free(ctx);
  CHECK(atomic_load(&c.frees) == 0);
  tokenforge_fetcher_free(f);
  CHECK(atomic_load(&c.frees) == 1);

  /* Bad arguments: refused, and the userdata freed once anyway. */
  counter d = {0};
  const char *bad_deps[] = {"ok", NULL};
  CHECK(tokenforge_fetcher_new_custom("c", bad_deps, 2, -1, custom_fetch, &d, free_counter, &f, NULL) ==
        TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_fetcher_new_custom("c", NULL, 0, -1, NULL, &d, free_counter, &f, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  const char *self[] = {"c"};
  CHECK(tokenforge_fetcher_new_custom("c", self, 1, -1, custom_fetch, &d, free_counter, &f, NULL) == TOKENFORGE_RESULT_CONFIG);
  CHECK(atomic_load(&d.frees) == 3);
}

/* ---- custom storage: a fixed table of slots ---- */
typedef struct {
  char key[8][64];
  tokenforge_token *token[8];
  int fail_store;
  atomic_int frees;
} table;

static tokenforge_result t_store(void *ud, const char *key, const tokenforge_token *t, tokenforge_error **err) {
  table *tb = ud;
  if (tb->fail_store) {
    *err = tokenforge_error_new(TOKENFORGE_RESULT_STORAGE, "disk full");
    return TOKENFORGE_RESULT_STORAGE;
  }
  for (int i = 0; i < 8; i++) {
    if (tb->token[i] == NULL || strcmp(tb->key[i], key) == 0) {
      tokenforge_token_free(tb->token[i]);
      snprintf(tb->key[i], sizeof tb->key[i], "%s", key);
      tb->token[i] = tokenforge_token_clone(t);
      return TOKENFORGE_RESULT_OK;
    }
  }
  return (tokenforge_result)4242; /* full: garbage code on purpose */
}

static tokenforge_result t_retrieve(void *ud, const char *key, tokenforge_token **out, tokenforge_error **err) {
  table *tb = ud;
  (void)err;
  for (int i = 0; i < 8; i++) {
    if (tb->token[i] != NULL && strcmp(tb->key[i], key) == 0) *out = tokenforge_token_clone(tb->token[i]);
  }
  return TOKENFORGE_RESULT_OK;
}

static tokenforge_result t_delete(void *ud, const char *key, tokenforge_error **err) {
  table *tb = ud;
  (void)err;
  for (int i = 0; i < 8; i++) {
    if (tb->token[i] != NULL && strcmp(tb->key[i], key) == 0) {
      tokenforge_token_free(tb->token[i]);
      tb->token[i] = NULL;
    }
  }
  return TOKENFORGE_RESULT_OK;
}

static void free_table(void *ud) {
  table *tb = ud;
  for (int i = 0; i < 8; i++) tokenforge_token_free(tb->token[i]);
  atomic_fetch_add(&tb->frees, 1);
}

static void test_custom_storage(void) {
  table tb;
  memset(&tb, 0, sizeof tb);
  tokenforge_storage_callbacks cb = {sizeof cb, t_store, t_retrieve, t_delete, NULL, NULL};
  tokenforge_storage *s = NULL;
  CHECK(tokenforge_storage_new_custom(&cb, &tb, free_table, &s, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_token *t = tokenforge_token_new("stored", NULL, -1, NULL);
  CHECK(tokenforge_storage_store(s, "app:x", t, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_token *got = NULL;
  CHECK(tokenforge_storage_retrieve(s, "app:x", &got, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(got != NULL && strcmp(tokenforge_token_access_token(got), "stored") == 0);
  tokenforge_token_free(got);
  got = NULL;
  CHECK(tokenforge_storage_retrieve(s, "absent", &got, NULL) == TOKENFORGE_RESULT_OK && got == NULL);
  CHECK(tokenforge_storage_delete(s, "app:x", NULL) == TOKENFORGE_RESULT_OK);
  CHECK(tokenforge_storage_retrieve(s, "app:x", &got, NULL) == TOKENFORGE_RESULT_OK && got == NULL);

  tokenforge_error *err = NULL;
  tb.fail_store = 1;
  CHECK(tokenforge_storage_store(s, "k", t, &err) == TOKENFORGE_RESULT_STORAGE);
  CHECK(err != NULL && strstr(tokenforge_error_message(err), "disk full") != NULL);
  tokenforge_error_free(err);
  tb.fail_store = 0;
  char key[16];
  tokenforge_result last = TOKENFORGE_RESULT_OK;
  for (int i = 0; i < 9; i++) {
    snprintf(key, sizeof key, "k%d", i);
    last = tokenforge_storage_store(s, key, t, NULL);
  }
  CHECK(last == TOKENFORGE_RESULT_STORAGE); /* the garbage code became STORAGE */
  tokenforge_token_free(t);
  CHECK(atomic_load(&tb.frees) == 0);
  tokenforge_storage_free(s);
  CHECK(atomic_load(&tb.frees) == 1);

  counter c = {0};
  tokenforge_storage_callbacks small = {4, t_store, t_retrieve, t_delete, NULL, NULL};
  /* A struct from before the lease callbacks (its struct_size ends before them) is fine. */
  tokenforge_storage_callbacks v1 = {offsetof(tokenforge_storage_callbacks, acquire_lease), t_store, t_retrieve, t_delete, NULL, NULL};
  tokenforge_storage *old_style = NULL;
  CHECK(tokenforge_storage_new_custom(&v1, NULL, NULL, &old_style, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_storage_free(old_style);
  CHECK(tokenforge_storage_new_custom(&small, &c, free_counter, &s, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_storage_callbacks missing = {sizeof missing, t_store, NULL, t_delete, NULL, NULL};
  CHECK(tokenforge_storage_new_custom(&missing, &c, free_counter, &s, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_storage_new_custom(NULL, &c, free_counter, &s, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(atomic_load(&c.frees) == 3);
}

/* ---- one fetcher, hooks on several threads at once ---- */
static tokenforge_result counting_hook(void *userdata, const tokenforge_context *ctx, tokenforge_request *req) {
  (void)ctx;
  atomic_fetch_add(&((counter *)userdata)->calls, 1);
  return tokenforge_request_set_header(req, "X-Thread", "yes");
}

static void *fetch_loop(void *arg) {
  const tokenforge_fetcher *f = arg;
  for (int i = 0; i < 25; i++) {
    tokenforge_token *t = NULL;
    if (tokenforge_fetcher_fetch(f, NULL, &t, NULL) != TOKENFORGE_RESULT_OK) return (void *)1;
    int ok = strcmp(tokenforge_token_extra(t, "header.x-thread"), "yes") == 0;
    tokenforge_token_free(t);
    if (!ok) return (void *)1;
  }
  return NULL;
}

static void test_threads(void) {
  counter c = {0};
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("t", base_url(), "/echo");
  tokenforge_fetcher_builder_set_request_hook(b, counting_hook, &c, free_counter);
  tokenforge_fetcher *f = build(b);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, fetch_loop, f);
  for (int i = 0; i < 4; i++) {
    void *r = NULL;
    pthread_join(th[i], &r);
    CHECK(r == NULL);
  }
  CHECK(atomic_load(&c.calls) == 100);
  tokenforge_fetcher_free(f);
  CHECK(atomic_load(&c.frees) == 1);
}


/* ---- a request hook refusing with its own code and message ---- */
static tokenforge_result refusing_hook(void *userdata, const tokenforge_context *ctx, tokenforge_request *req) {
  (void)ctx;
  counter *c = userdata;
  atomic_fetch_add(&c->calls, 1);
  /* The hook sees the grant it is about to send. */
  const char *grant = tokenforge_request_data(req, "grant_type");
  if (c->mode == 0) {
    /* Bad calls of the failing functions are refused and change nothing. */
    if (tokenforge_request_fail(req, TOKENFORGE_RESULT_OK, "ok is no failure") != TOKENFORGE_RESULT_INVALID_ARGUMENT) return TOKENFORGE_RESULT_PANIC;
    if (tokenforge_request_fail(req, (tokenforge_result)4242, "no code") != TOKENFORGE_RESULT_INVALID_ARGUMENT) return TOKENFORGE_RESULT_PANIC;
    if (tokenforge_request_fail_error(req, NULL) != TOKENFORGE_RESULT_INVALID_ARGUMENT) return TOKENFORGE_RESULT_PANIC;
    if (tokenforge_request_fail(NULL, TOKENFORGE_RESULT_OAUTH, "x") != TOKENFORGE_RESULT_INVALID_ARGUMENT) return TOKENFORGE_RESULT_PANIC;
    if (grant == NULL || strcmp(grant, "client_credentials") != 0) return TOKENFORGE_RESULT_PANIC;
    tokenforge_request_fail(req, TOKENFORGE_RESULT_OAUTH, "the vault said no");
    return TOKENFORGE_RESULT_OAUTH;
  }
  if (c->mode == 1) {
    tokenforge_request_fail(req, TOKENFORGE_RESULT_TRANSPORT, NULL); /* default message */
    return TOKENFORGE_RESULT_OK;                                     /* the failure stands */
  }
  tokenforge_error *e = tokenforge_error_new(TOKENFORGE_RESULT_CONFIG, "hook config missing");
  tokenforge_request_fail_error(req, e); /* takes e */
  return TOKENFORGE_RESULT_CONFIG;
}

static void test_request_hook_fails_with_its_own_code(void) {
  counter c = {0};
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_client_credentials(
      "vaulted", "http://127.0.0.1:1/oauth/token", "c", "c-secret", NULL);
  CHECK(tokenforge_fetcher_builder_set_request_hook(b, refusing_hook, &c, free_counter) == TOKENFORGE_RESULT_OK);
  tokenforge_fetcher *f = build(b);
  const struct {
    tokenforge_result code;
    const char *message;
  } want[] = {{TOKENFORGE_RESULT_OAUTH, "the vault said no"},
              {TOKENFORGE_RESULT_TRANSPORT, "request hook failed with TRANSPORT"},
              {TOKENFORGE_RESULT_CONFIG, "hook config missing"}};
  for (int mode = 0; mode < 3; mode++) {
    c.mode = mode;
    tokenforge_token *t = NULL;
    tokenforge_error *err = NULL;
    CHECK(tokenforge_fetcher_fetch(f, NULL, &t, &err) == want[mode].code);
    CHECK(t == NULL && err != NULL);
    CHECK(tokenforge_error_code(err) == want[mode].code);
    CHECK(strcmp(tokenforge_error_message(err), want[mode].message) == 0);
    CHECK(tokenforge_error_step(err) != NULL && strcmp(tokenforge_error_step(err), "vaulted") == 0);
    tokenforge_error_free(err);
  }
  CHECK(atomic_load(&c.calls) == 3); /* nothing was sent: port 1 would have failed with TRANSPORT */
  tokenforge_fetcher_free(f);
  CHECK(atomic_load(&c.frees) == 1);
}

/* ---- a custom fetcher's error cause, through a dependent step on a library thread ---- */
static atomic_int causes_freed;
static int cause_tag;

static void free_cause(void *cause) {
  if (cause == &cause_tag) atomic_fetch_add(&causes_freed, 1);
}

static tokenforge_result failing_with_cause(void *userdata, const tokenforge_context *ctx, tokenforge_token **out,
                                            tokenforge_error **err) {
  (void)userdata;
  (void)ctx;
  (void)out;
  *err = tokenforge_error_new(TOKENFORGE_RESULT_OAUTH, "backend refused");
  tokenforge_error_set_cause(*err, &cause_tag, free_cause);
  return TOKENFORGE_RESULT_OAUTH;
}

static void test_error_causes_travel(void) {
  tokenforge_fetcher *bad = NULL, *slow = NULL, *top = NULL;
  CHECK(tokenforge_fetcher_new_custom("bad", NULL, 0, -1, failing_with_cause, NULL, NULL, &bad, NULL) == TOKENFORGE_RESULT_OK);
  slow = build(tokenforge_fetcher_builder_new_body("slow", base_url(), "/slow/50"));
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("top", base_url(), "/echo");
  tokenforge_fetcher_builder_add_dependency(b, "slow");
  tokenforge_fetcher_builder_add_dependency(b, "bad");
  top = build(b);
  tokenforge_pipeline *p = tokenforge_pipeline_new();
  tokenforge_pipeline_add(p, bad, NULL);
  tokenforge_pipeline_add(p, slow, NULL);
  tokenforge_pipeline_add(p, top, NULL);
  tokenforge_fetcher_free(bad);
  tokenforge_fetcher_free(slow);
  tokenforge_fetcher_free(top);
  tokenforge_token *t = NULL;
  tokenforge_error *err = NULL;
  /* "bad" is fetched on a library thread, in parallel with "slow". */
  CHECK(tokenforge_pipeline_get(p, "top", &t, &err) == TOKENFORGE_RESULT_DEPENDENCY);
  CHECK(err != NULL && strstr(tokenforge_error_message(err), "backend refused") != NULL);
  CHECK(tokenforge_error_cause(err) == &cause_tag);
  tokenforge_error_free(err);
  CHECK(tokenforge_error_cause(NULL) == NULL);
  CHECK(tokenforge_error_set_cause(NULL, &cause_tag, free_cause) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(atomic_load(&causes_freed) == 1); /* freed at once when the call fails */
  tokenforge_pipeline_free(p);            /* the pipeline remembered the last failure */
  CHECK(atomic_load(&causes_freed) == 2);
}

int main(void) {
  test_request_hook();
  test_raw_body();
  test_userdata_counting();
  test_error_hook();
  test_custom_fetcher();
  test_custom_storage();
  test_threads();
  test_request_hook_fails_with_its_own_code();
  test_error_causes_travel();
  return summary("hooks");
}
