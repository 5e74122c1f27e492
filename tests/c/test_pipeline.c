/* C-level tests of pipelines against the real shared library and the loopback server at
   $TOKENFORGE_URL: JSON configuration, caching, events, invalidation, storage reuse, bad
   input, re-entrancy and threads. Prints "N passed, N failed". */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "tokenforge.h"


static tokenforge_pipeline *from_json(const char *fmt) {
  char json[4096];
  snprintf(json, sizeof json, fmt, base_url(), base_url(), base_url());
  tokenforge_pipeline *p = NULL;
  tokenforge_error *err = NULL;
  if (tokenforge_pipeline_from_json(json, &p, &err) != TOKENFORGE_RESULT_OK) {
    fprintf(stderr, "from_json: %s\n", tokenforge_error_message(err));
    tokenforge_error_free(err);
  }
  return p;
}

static const char *THREE_STEPS =
    "{\"steps\":["
    "{\"name\":\"user\",\"kind\":\"body\",\"base_url\":\"%s\",\"endpoint\":\"/user/auth\","
    " \"depends_on\":[\"device\",\"app\"],"
    " \"request_headers\":{\"X-Device-Token\":\"{{device.access_token}}\",\"Authorization\":\"{{app.authorization}}\"}},"
    "{\"name\":\"device\",\"kind\":\"header\",\"base_url\":\"%s\",\"endpoint\":\"/device/register\","
    " \"request_headers\":{\"X-Device-ID\":\"d\"},\"token_header\":\"X-Device-Token\"},"
    "{\"name\":\"app\",\"kind\":\"client_credentials\",\"token_url\":\"%s/oauth/token\","
    " \"client_id\":\"c\",\"client_secret\":\"c-secret\"}]}";

#define KINDS 10 /* tokenforge_event_kind values */

typedef struct {
  atomic_int kinds[KINDS];
  atomic_int background[KINDS];
  atomic_int frees;
} events;

static void on_event(void *ud, const tokenforge_event *e) {
  events *ev = ud;
  if (e->kind >= 0 && e->kind < KINDS) atomic_fetch_add(e->background ? &ev->background[e->kind] : &ev->kinds[e->kind], 1);
  if (e->step == NULL || e->step[0] == '\0') atomic_fetch_add(&ev->kinds[0], 1000); /* must not happen */
}

static void free_events(void *ud) { atomic_fetch_add(&((events *)ud)->frees, 1); }

static void test_json_pipeline_cache_and_invalidation(void) {
  tokenforge_pipeline *p = from_json(THREE_STEPS);
  CHECK(p != NULL);
  if (p == NULL) return;
  events ev;
  memset(&ev, 0, sizeof ev);
  CHECK(tokenforge_pipeline_set_event_hook(p, on_event, &ev, free_events, NULL) == TOKENFORGE_RESULT_OK);
  long before = server_count("/user/auth");
  tokenforge_token *t1 = NULL, *t2 = NULL;
  CHECK(tokenforge_pipeline_get(p, "user", &t1, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(t1 != NULL && strncmp(tokenforge_token_access_token(t1), "user-", 5) == 0);
  CHECK(tokenforge_pipeline_get(p, "user", &t2, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(t2 != NULL && strcmp(tokenforge_token_access_token(t1), tokenforge_token_access_token(t2)) == 0);
  CHECK(server_count("/user/auth") == before + 1);
  CHECK(atomic_load(&ev.kinds[TOKENFORGE_EVENT_KIND_FETCH_SUCCEEDED]) == 3);
  CHECK(atomic_load(&ev.kinds[TOKENFORGE_EVENT_KIND_CACHE_HIT]) == 1);

  bool invalidated = true;
  CHECK(tokenforge_pipeline_invalidate_if(p, "user", "other", &invalidated, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(!invalidated);
  CHECK(tokenforge_pipeline_invalidate_if(p, "user", tokenforge_token_access_token(t1), &invalidated, NULL) ==
        TOKENFORGE_RESULT_OK);
  CHECK(invalidated);
  CHECK(tokenforge_pipeline_invalidate(p, "device", NULL) == TOKENFORGE_RESULT_OK);
  CHECK(atomic_load(&ev.kinds[TOKENFORGE_EVENT_KIND_INVALIDATED]) == 2); /* user, then device (user already gone) */
  tokenforge_token *t3 = NULL;
  CHECK(tokenforge_pipeline_get(p, "user", &t3, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(t3 != NULL && strcmp(tokenforge_token_access_token(t1), tokenforge_token_access_token(t3)) != 0);
  CHECK(server_count("/user/auth") == before + 2);
  tokenforge_token_free(t1);
  tokenforge_token_free(t2);
  tokenforge_token_free(t3);
  tokenforge_pipeline_free(p);
  CHECK(atomic_load(&ev.frees) == 1);
  CHECK(atomic_load(&ev.kinds[0]) < 1000);
}

static void test_bad_input(void) {
  tokenforge_pipeline *p = tokenforge_pipeline_new();
  tokenforge_token *t = NULL;
  tokenforge_error *err = NULL;
  CHECK(tokenforge_pipeline_get(p, "nope", &t, &err) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_error_free(err);
  CHECK(tokenforge_pipeline_get(NULL, "x", &t, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_get(p, NULL, &t, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_get(p, "x", NULL, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_add(p, NULL, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_set_refresh_margin_ms(p, -1, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_set_storage(p, NULL, "x", NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_invalidate(p, "x", NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_set_event_hook(p, NULL, NULL, NULL, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);

  /* Duplicate, missing dependency, cycle. */
  const char *deps_b[] = {"b"};
  const char *deps_a[] = {"a"};
  tokenforge_fetcher *a = NULL, *a2 = NULL, *b = NULL;
  tokenforge_fetcher_new_custom("a", deps_b, 1, -1, NULL, NULL, NULL, &a, NULL); /* NULL fetch: refused */
  CHECK(a == NULL);
  tokenforge_fetcher_builder *bb = tokenforge_fetcher_builder_new_body("a", base_url(), "/echo");
  tokenforge_fetcher_builder_add_dependency(bb, "b");
  tokenforge_fetcher_builder_build(bb, &a, NULL);
  bb = tokenforge_fetcher_builder_new_body("a", base_url(), "/echo");
  tokenforge_fetcher_builder_build(bb, &a2, NULL);
  CHECK(tokenforge_pipeline_add(p, a, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(tokenforge_pipeline_add(p, a2, &err) == TOKENFORGE_RESULT_CONFIG);
  tokenforge_error_free(err);
  err = NULL;
  CHECK(tokenforge_pipeline_validate(p, &err) == TOKENFORGE_RESULT_CONFIG);
  CHECK(err != NULL && strstr(tokenforge_error_message(err), "\"b\"") != NULL);
  tokenforge_error_free(err);
  err = NULL;
  bb = tokenforge_fetcher_builder_new_body("b", base_url(), "/echo");
  tokenforge_fetcher_builder_add_dependency(bb, deps_a[0]);
  tokenforge_fetcher_builder_build(bb, &b, NULL);
  CHECK(tokenforge_pipeline_add(p, b, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(tokenforge_pipeline_get(p, "a", &t, &err) == TOKENFORGE_RESULT_CONFIG);
  CHECK(err != NULL && strstr(tokenforge_error_message(err), "cycle") != NULL);
  tokenforge_error_free(err);
  tokenforge_fetcher_free(a);
  tokenforge_fetcher_free(a2);
  tokenforge_fetcher_free(b);
  tokenforge_pipeline_free(p);

  /* JSON errors point at the step and field. */
  err = NULL;
  p = NULL;
  CHECK(tokenforge_pipeline_from_json("{\"steps\":[{\"name\":\"s\",\"kind\":\"body\",\"base_url\":\"http://h\",\"ttl\":5}]}", &p,
                                      &err) == TOKENFORGE_RESULT_CONFIG);
  CHECK(p == NULL && err != NULL && strstr(tokenforge_error_message(err), "ttl") != NULL);
  CHECK(err != NULL && strcmp(tokenforge_error_step(err), "s") == 0);
  CHECK(err != NULL && tokenforge_error_field(err) != NULL && strcmp(tokenforge_error_field(err), "ttl") == 0);
  tokenforge_error_free(err);
  /* A depends_on naming a missing step: the step and field are set, with a near name. */
  err = NULL;
  CHECK(tokenforge_pipeline_from_json("{\"steps\":[{\"name\":\"device\",\"kind\":\"body\",\"base_url\":\"http://h\"},"
                                      "{\"name\":\"u\",\"kind\":\"body\",\"base_url\":\"http://h\",\"depends_on\":[\"devce\"]}]}",
                                      &p, &err) == TOKENFORGE_RESULT_CONFIG);
  CHECK(err != NULL && tokenforge_error_step(err) != NULL && strcmp(tokenforge_error_step(err), "u") == 0);
  CHECK(err != NULL && strcmp(tokenforge_error_field(err), "depends_on") == 0);
  CHECK(err != NULL && strstr(tokenforge_error_message(err), "did you mean \"device\"") != NULL);
  tokenforge_error_free(err);
  CHECK(tokenforge_error_field(NULL) == NULL);
  CHECK(tokenforge_pipeline_from_json("not json", &p, NULL) == TOKENFORGE_RESULT_CONFIG);
  CHECK(tokenforge_pipeline_from_json(NULL, &p, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_pipeline_free(NULL);
}

static void test_storage_reuse(void) {
  tokenforge_storage *s = tokenforge_storage_new_memory();
  tokenforge_pipeline *p1 = from_json(THREE_STEPS);
  tokenforge_pipeline *p2 = from_json(THREE_STEPS);
  CHECK(tokenforge_pipeline_set_storage(p1, s, "svc", NULL) == TOKENFORGE_RESULT_OK);
  CHECK(tokenforge_pipeline_set_storage(p2, s, "svc", NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_storage_free(s); /* the pipelines keep it */
  tokenforge_token *t1 = NULL, *t2 = NULL;
  CHECK(tokenforge_pipeline_get(p1, "user", &t1, NULL) == TOKENFORGE_RESULT_OK);
  long before = server_count("/user/auth");
  CHECK(tokenforge_pipeline_get(p2, "user", &t2, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(server_count("/user/auth") == before);
  CHECK(t1 && t2 && strcmp(tokenforge_token_access_token(t1), tokenforge_token_access_token(t2)) == 0);
  tokenforge_token_free(t1);
  tokenforge_token_free(t2);
  tokenforge_pipeline_free(p1);
  tokenforge_pipeline_free(p2);
}

/* A custom fetcher asking its own pipeline for itself: an error, never a deadlock. */
static tokenforge_result reentrant(void *ud, const tokenforge_context *ctx, tokenforge_token **out, tokenforge_error **err) {
  (void)ctx;
  const tokenforge_pipeline *p = *(tokenforge_pipeline *const *)ud;
  return tokenforge_pipeline_get(p, "self", out, err);
}

static void test_reentrancy(void) {
  tokenforge_pipeline *p = tokenforge_pipeline_new();
  tokenforge_fetcher *f = NULL;
  CHECK(tokenforge_fetcher_new_custom("self", NULL, 0, -1, reentrant, &p, NULL, &f, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_pipeline_add(p, f, NULL);
  tokenforge_fetcher_free(f);
  tokenforge_token *t = NULL;
  tokenforge_error *err = NULL;
  CHECK(tokenforge_pipeline_get(p, "self", &t, &err) == TOKENFORGE_RESULT_CONFIG);
  CHECK(t == NULL && err != NULL && strstr(tokenforge_error_message(err), "own fetch") != NULL);
  tokenforge_error_free(err);
  tokenforge_pipeline_free(p);
}

static void *get_many(void *arg) {
  const tokenforge_pipeline *p = arg;
  for (int i = 0; i < 200; i++) {
    tokenforge_token *t = NULL;
    if (tokenforge_pipeline_get(p, "user", &t, NULL) != TOKENFORGE_RESULT_OK) return (void *)1;
    tokenforge_token_free(t);
  }
  return NULL;
}

static void test_threads(void) {
  tokenforge_pipeline *p = from_json(THREE_STEPS);
  long before = server_count("/user/auth");
  pthread_t th[8];
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, get_many, p);
  for (int i = 0; i < 8; i++) {
    void *r = NULL;
    pthread_join(th[i], &r);
    CHECK(r == NULL);
  }
  CHECK(server_count("/user/auth") == before + 1); /* 1600 gets, one fetch */
  tokenforge_pipeline_free(p);
}

/* ---- steps added and removed while 8 threads get others ---- */
static tokenforge_result tenant_fetch(void *ud, const tokenforge_context *ctx, tokenforge_token **out,
                                      tokenforge_error **err) {
  (void)ud, (void)ctx, (void)err;
  *out = tokenforge_token_new("tenant-token", NULL, TOKENFORGE_NO_EXPIRY, NULL);
  return TOKENFORGE_RESULT_OK;
}

static tokenforge_fetcher *tenant(const char *name, const char *dep) {
  const char *deps[] = {dep};
  tokenforge_fetcher *f = NULL;
  tokenforge_fetcher_new_custom(name, deps, dep ? 1 : 0, 3600000, tenant_fetch, NULL, NULL, &f, NULL);
  return f;
}

typedef struct {
  const tokenforge_pipeline *p;
  atomic_int stop, failures;
} live_args;

static void *get_base(void *arg) {
  live_args *a = arg;
  char name[32];
  for (int k = 0; !atomic_load(&a->stop); k++) {
    snprintf(name, sizeof name, "base%d", k % 50);
    tokenforge_token *t = NULL;
    if (tokenforge_pipeline_get(a->p, name, &t, NULL) != TOKENFORGE_RESULT_OK) atomic_fetch_add(&a->failures, 1);
    tokenforge_token_free(t);
  }
  return NULL;
}

static void test_add_and_remove_while_serving(void) {
  tokenforge_pipeline *p = tokenforge_pipeline_new();
  char name[32];
  for (int i = 0; i < 50; i++) {
    snprintf(name, sizeof name, "base%d", i);
    tokenforge_fetcher *f = tenant(name, NULL);
    CHECK(tokenforge_pipeline_add(p, f, NULL) == TOKENFORGE_RESULT_OK);
    tokenforge_fetcher_free(f);
  }
  live_args a = {p, 0, 0};
  pthread_t th[8];
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, get_base, &a);
  int added = 0, removed = 0;
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "tenant%d", i);
    tokenforge_fetcher *f = tenant(name, "base0");
    added += tokenforge_pipeline_add_live(p, f, NULL) == TOKENFORGE_RESULT_OK;
    tokenforge_fetcher_free(f);
    tokenforge_token *t = NULL;
    CHECK(tokenforge_pipeline_get(p, name, &t, NULL) == TOKENFORGE_RESULT_OK);
    tokenforge_token_free(t);
    if (i % 2 == 0) removed += tokenforge_pipeline_remove(p, name, NULL) == TOKENFORGE_RESULT_OK;
  }
  atomic_store(&a.stop, 1);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  CHECK(added == 100 && removed == 50 && atomic_load(&a.failures) == 0);
  /* A step others depend on stays; a removed step is unknown; a duplicate is refused. */
  tokenforge_error *err = NULL;
  CHECK(tokenforge_pipeline_remove(p, "base0", &err) == TOKENFORGE_RESULT_CONFIG);
  CHECK(err != NULL && strstr(tokenforge_error_message(err), "depend") != NULL);
  tokenforge_error_free(err);
  CHECK(tokenforge_pipeline_remove(p, "tenant0", NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_fetcher *dup = tenant("tenant1", NULL);
  CHECK(tokenforge_pipeline_add_live(p, dup, NULL) == TOKENFORGE_RESULT_CONFIG);
  tokenforge_fetcher_free(dup);
  CHECK(tokenforge_pipeline_add_live(NULL, NULL, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_remove(p, NULL, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_pipeline_free(p);
}

/* ---- a store that fails every call never fails a get ---- */
typedef struct {
  atomic_int retrieves, stores, deletes;
} failing_store;

static tokenforge_result fs_fail(tokenforge_error **err, const char *message) {
  *err = tokenforge_error_new(TOKENFORGE_RESULT_STORAGE, message);
  return TOKENFORGE_RESULT_STORAGE;
}

static tokenforge_result fs_store(void *ud, const char *key, const tokenforge_token *t, tokenforge_error **err) {
  (void)key;
  (void)t;
  atomic_fetch_add(&((failing_store *)ud)->stores, 1);
  return fs_fail(err, "disk full");
}

static tokenforge_result fs_retrieve(void *ud, const char *key, tokenforge_token **out, tokenforge_error **err) {
  (void)key;
  (void)out;
  atomic_fetch_add(&((failing_store *)ud)->retrieves, 1);
  return fs_fail(err, "store offline");
}

static tokenforge_result fs_delete(void *ud, const char *key, tokenforge_error **err) {
  (void)key;
  atomic_fetch_add(&((failing_store *)ud)->deletes, 1);
  return fs_fail(err, "store offline");
}

static void count_storage_errors(void *ud, const tokenforge_error *e, const tokenforge_context *ctx) {
  (void)ctx;
  if (tokenforge_error_code(e) == TOKENFORGE_RESULT_STORAGE && strstr(tokenforge_error_message(e), "callback failed") != NULL)
    atomic_fetch_add((atomic_int *)ud, 1);
}

static void test_failing_store_never_fails_a_get(void) {
  failing_store fs;
  memset(&fs, 0, sizeof fs);
  tokenforge_storage_callbacks cb = {sizeof cb, fs_store, fs_retrieve, fs_delete, NULL, NULL};
  tokenforge_storage *s = NULL;
  CHECK(tokenforge_storage_new_custom(&cb, &fs, NULL, &s, NULL) == TOKENFORGE_RESULT_OK);
  atomic_int told = 0;
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("t", base_url(), "/echo");
  CHECK(tokenforge_fetcher_builder_set_error_hook(b, count_storage_errors, &told, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_fetcher *f = NULL;
  CHECK(tokenforge_fetcher_builder_build(b, &f, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_pipeline *p = tokenforge_pipeline_new();
  CHECK(tokenforge_pipeline_add(p, f, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_fetcher_free(f);
  CHECK(tokenforge_pipeline_set_storage(p, s, "c", NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_storage_free(s); /* the pipeline keeps its reference */
  events ev;
  memset(&ev, 0, sizeof ev);
  CHECK(tokenforge_pipeline_set_event_hook(p, on_event, &ev, NULL, NULL) == TOKENFORGE_RESULT_OK);
  for (int round = 0; round < 2; round++) {
    tokenforge_token *t = NULL;
    tokenforge_error *err = NULL;
    CHECK(tokenforge_pipeline_get(p, "t", &t, &err) == TOKENFORGE_RESULT_OK);
    CHECK(t != NULL && strcmp(tokenforge_token_access_token(t), "echo-token") == 0);
    CHECK(err == NULL);
    tokenforge_token_free(t);
    CHECK(tokenforge_pipeline_invalidate(p, "t", &err) == TOKENFORGE_RESULT_OK); /* its delete fails too */
    CHECK(err == NULL);
  }
  int calls = atomic_load(&fs.retrieves) + atomic_load(&fs.stores) + atomic_load(&fs.deletes);
  /* Read before each fetch (another process may have renewed), written after, deleted by
     each invalidation. */
  CHECK(atomic_load(&fs.retrieves) == 2 && atomic_load(&fs.stores) == 2 && atomic_load(&fs.deletes) == 2);
  CHECK(atomic_load(&told) == calls);
  CHECK(atomic_load(&ev.kinds[TOKENFORGE_EVENT_KIND_STORAGE_FAILED]) == calls);
  CHECK(atomic_load(&ev.kinds[TOKENFORGE_EVENT_KIND_FETCH_SUCCEEDED]) == 2);
  tokenforge_pipeline_free(p);
}

/* ---- freeing a pipeline while a renewal runs in the background ---- */
static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_free_during_a_background_renewal(void) {
  tokenforge_pipeline *p = from_json(
      "{\"steps\":[{\"name\":\"slow\",\"kind\":\"body\",\"base_url\":\"%s\",\"endpoint\":\"/slow/800\","
      "\"ttl_ms\":1000}]}");
  CHECK(p != NULL);
  if (p == NULL) return;
  events ev;
  memset(&ev, 0, sizeof ev);
  CHECK(tokenforge_pipeline_set_event_hook(p, on_event, &ev, free_events, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_token *t = NULL;
  CHECK(tokenforge_pipeline_get(p, "slow", &t, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_token_free(t);
  sleep_ms(600); /* stale: the margin is half of the 1 s lifetime */
  t = NULL;
  CHECK(tokenforge_pipeline_get(p, "slow", &t, NULL) == TOKENFORGE_RESULT_OK); /* starts the renewal */
  CHECK(t != NULL);
  tokenforge_token_free(t);
  for (int i = 0; i < 500 && atomic_load(&ev.background[TOKENFORGE_EVENT_KIND_FETCH_STARTED]) == 0; i++) sleep_ms(1);
  CHECK(atomic_load(&ev.background[TOKENFORGE_EVENT_KIND_FETCH_STARTED]) == 1);
  tokenforge_pipeline_free(p);
  /* free returned while the renewal (800 ms) still holds the hooks ... */
  CHECK(atomic_load(&ev.frees) == 0);
  CHECK(atomic_load(&ev.background[TOKENFORGE_EVENT_KIND_FETCH_SUCCEEDED]) == 0);
  /* ... which are released once it ends, after its last event. */
  for (int i = 0; i < 500 && atomic_load(&ev.frees) == 0; i++) sleep_ms(10);
  CHECK(atomic_load(&ev.frees) == 1);
  CHECK(atomic_load(&ev.background[TOKENFORGE_EVENT_KIND_FETCH_SUCCEEDED]) == 1);
}

/* ---- the file store: a second pipeline (as a second process would) finds the token ---- */
static tokenforge_pipeline *echo_pipeline(tokenforge_storage *s, events *ev) {
  tokenforge_fetcher *f = NULL;
  tokenforge_fetcher_builder_build(tokenforge_fetcher_builder_new_body("shared", base_url(), "/switch/cfile"), &f, NULL);
  tokenforge_pipeline *p = tokenforge_pipeline_new();
  tokenforge_pipeline_add(p, f, NULL);
  tokenforge_fetcher_free(f);
  CHECK(tokenforge_pipeline_set_storage(p, s, "c", NULL) == TOKENFORGE_RESULT_OK);
  CHECK(tokenforge_pipeline_set_event_hook(p, on_event, ev, NULL, NULL) == TOKENFORGE_RESULT_OK);
  return p;
}

static void test_file_store(void) {
  char dir[] = "/tmp/tf-c-store-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  tokenforge_storage *s = NULL;
  tokenforge_error *err = NULL;
  CHECK(tokenforge_storage_new_file(NULL, &s, &err) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_error_free(err);
  err = NULL;
  CHECK(tokenforge_storage_new_file(dir, NULL, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_storage_new_file(dir, &s, &err) == TOKENFORGE_RESULT_OK);
  events ev1, ev2;
  memset(&ev1, 0, sizeof ev1);
  memset(&ev2, 0, sizeof ev2);
  tokenforge_pipeline *p1 = echo_pipeline(s, &ev1);
  tokenforge_token *t1 = NULL, *t2 = NULL;
  CHECK(tokenforge_pipeline_get(p1, "shared", &t1, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_pipeline_free(p1);
  long before = server_count("/switch/cfile");
  tokenforge_pipeline *p2 = echo_pipeline(s, &ev2);
  CHECK(tokenforge_pipeline_get(p2, "shared", &t2, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(t1 && t2 && strcmp(tokenforge_token_access_token(t1), tokenforge_token_access_token(t2)) == 0);
  CHECK(server_count("/switch/cfile") == before);
  CHECK(atomic_load(&ev2.kinds[TOKENFORGE_EVENT_KIND_LOADED_FROM_STORAGE]) == 1);
  tokenforge_token_free(t1);
  tokenforge_token_free(t2);
  tokenforge_pipeline_free(p2);
  tokenforge_storage_free(s);

  /* A directory other users may enter is refused, with the reason. */
  chmod(dir, 0755);
  s = NULL;
  CHECK(tokenforge_storage_new_file(dir, &s, &err) == TOKENFORGE_RESULT_STORAGE);
  CHECK(s == NULL && err != NULL && strstr(tokenforge_error_message(err), "0755") != NULL);
  tokenforge_error_free(err);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
}

static void test_redis_store_arguments(void) {
  tokenforge_storage *s = NULL;
  tokenforge_error *err = NULL;
  CHECK(tokenforge_storage_new_redis("http://127.0.0.1:1", &s, &err) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_error_free(err);
  err = NULL;
  CHECK(tokenforge_storage_new_redis(NULL, &s, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  /* Made without connecting; a call then fails without showing the password. */
  CHECK(tokenforge_storage_new_redis("redis://user:c-pw-secret@127.0.0.1:1/0", &s, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_token *t = NULL;
  CHECK(tokenforge_storage_retrieve(s, "k", &t, &err) == TOKENFORGE_RESULT_STORAGE);
  CHECK(err != NULL && strstr(tokenforge_error_message(err), "c-pw-secret") == NULL);
  CHECK(err != NULL && strstr(tokenforge_error_message(err), "127.0.0.1:1") != NULL);
  tokenforge_error_free(err);
  tokenforge_storage_free(s);
}

/* ---- a custom C store that offers leases: cross-process single-flight for C stores ---- */
typedef struct {
  pthread_mutex_t mu;
  tokenforge_token *token;
  char owner[64];
  atomic_int acquired, refused, released;
} leasing_store;

static tokenforge_result ls_store(void *ud, const char *key, const tokenforge_token *t, tokenforge_error **err) {
  (void)key;
  (void)err;
  leasing_store *ls = ud;
  pthread_mutex_lock(&ls->mu);
  tokenforge_token_free(ls->token);
  ls->token = tokenforge_token_clone(t);
  pthread_mutex_unlock(&ls->mu);
  return TOKENFORGE_RESULT_OK;
}

static tokenforge_result ls_retrieve(void *ud, const char *key, tokenforge_token **out, tokenforge_error **err) {
  (void)key;
  (void)err;
  leasing_store *ls = ud;
  pthread_mutex_lock(&ls->mu);
  *out = tokenforge_token_clone(ls->token);
  pthread_mutex_unlock(&ls->mu);
  return TOKENFORGE_RESULT_OK;
}

static tokenforge_result ls_delete(void *ud, const char *key, tokenforge_error **err) {
  (void)key;
  (void)err;
  leasing_store *ls = ud;
  pthread_mutex_lock(&ls->mu);
  tokenforge_token_free(ls->token);
  ls->token = NULL;
  pthread_mutex_unlock(&ls->mu);
  return TOKENFORGE_RESULT_OK;
}

static tokenforge_result ls_acquire(void *ud, const char *key, const char *owner, int64_t ttl_ms, bool *acquired,
                                    tokenforge_error **err) {
  (void)key;
  (void)err;
  leasing_store *ls = ud;
  pthread_mutex_lock(&ls->mu);
  *acquired = ls->owner[0] == '\0' && ttl_ms > 0;
  if (*acquired) snprintf(ls->owner, sizeof ls->owner, "%s", owner);
  pthread_mutex_unlock(&ls->mu);
  atomic_fetch_add(*acquired ? &ls->acquired : &ls->refused, 1);
  return TOKENFORGE_RESULT_OK;
}

static tokenforge_result ls_release(void *ud, const char *key, const char *owner, tokenforge_error **err) {
  (void)key;
  (void)err;
  leasing_store *ls = ud;
  pthread_mutex_lock(&ls->mu);
  if (strcmp(ls->owner, owner) == 0) {
    ls->owner[0] = '\0';
    atomic_fetch_add(&ls->released, 1);
  }
  pthread_mutex_unlock(&ls->mu);
  return TOKENFORGE_RESULT_OK;
}

static void *get_shared(void *arg) {
  tokenforge_token *t = NULL;
  tokenforge_pipeline_get(arg, "leased", &t, NULL);
  return t;
}

static void test_custom_store_with_leases(void) {
  leasing_store ls;
  memset(&ls, 0, sizeof ls);
  pthread_mutex_init(&ls.mu, NULL);
  tokenforge_storage_callbacks cb = {sizeof cb, ls_store, ls_retrieve, ls_delete, ls_acquire, NULL};
  tokenforge_storage *s = NULL;
  CHECK(tokenforge_storage_new_custom(&cb, &ls, NULL, &s, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT); /* half */
  cb.release_lease = ls_release;
  CHECK(tokenforge_storage_new_custom(&cb, &ls, NULL, &s, NULL) == TOKENFORGE_RESULT_OK);
  /* Two pipelines stand for two processes sharing the store. */
  tokenforge_pipeline *p[2];
  for (int i = 0; i < 2; i++) {
    tokenforge_fetcher *f = NULL;
    tokenforge_fetcher_builder_build(tokenforge_fetcher_builder_new_body("leased", base_url(), "/slow/300"), &f, NULL);
    p[i] = tokenforge_pipeline_new();
    tokenforge_pipeline_add(p[i], f, NULL);
    tokenforge_pipeline_set_storage(p[i], s, NULL, NULL);
    tokenforge_fetcher_free(f);
  }
  long before = server_count("/slow/300");
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, get_shared, p[i]);
  tokenforge_token *got[2];
  for (int i = 0; i < 2; i++) pthread_join(th[i], (void **)&got[i]);
  CHECK(got[0] != NULL && got[1] != NULL);
  CHECK(got[0] && got[1] && strcmp(tokenforge_token_access_token(got[0]), tokenforge_token_access_token(got[1])) == 0);
  CHECK(server_count("/slow/300") == before + 1);
  CHECK(atomic_load(&ls.acquired) == atomic_load(&ls.released) && atomic_load(&ls.acquired) >= 1);
  CHECK(atomic_load(&ls.refused) >= 1); /* the second waited for the first's lease */
  for (int i = 0; i < 2; i++) {
    tokenforge_token_free(got[i]);
    tokenforge_pipeline_free(p[i]);
  }
  tokenforge_storage_free(s);
  tokenforge_token_free(ls.token);
  pthread_mutex_destroy(&ls.mu);
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Step handles: the same tokens as by name; the change counter and freshness a wrapper
   caches by; configuration refused while a handle exists; a handle outliving its pipeline. */
static void test_step_handles(void) {
  tokenforge_pipeline *p = from_json(THREE_STEPS);
  CHECK(p != NULL);
  if (p == NULL) return;
  tokenforge_step *user = NULL, *none = NULL;
  tokenforge_error *err = NULL;
  CHECK(tokenforge_pipeline_step(p, "nope", &none, &err) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(none == NULL && err && strstr(tokenforge_error_message(err), "nope"));
  tokenforge_error_free(err);
  CHECK(tokenforge_pipeline_step(p, NULL, &none, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_step(NULL, "user", &none, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_step(p, "user", NULL, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_step(p, "user", &user, NULL) == TOKENFORGE_RESULT_OK && user != NULL);
  const uint64_t *changes = tokenforge_step_changes(user);
  CHECK(changes != NULL && tokenforge_step_changes(NULL) == NULL);
  uint64_t c0 = __atomic_load_n(changes, __ATOMIC_ACQUIRE);

  tokenforge_token *a = NULL, *b = NULL, *c = NULL;
  uint64_t at = 0;
  int64_t fresh_until = -1;
  CHECK(tokenforge_step_get_cacheable(user, &a, &at, &fresh_until, NULL) == TOKENFORGE_RESULT_OK);
  uint64_t c1 = __atomic_load_n(changes, __ATOMIC_ACQUIRE);
  CHECK(c1 > c0 && at == c1); /* the fetch changed it, and the token belongs to the new value */
  CHECK(fresh_until > wall_ms() + 60000);
  CHECK(tokenforge_step_get(user, &b, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(tokenforge_pipeline_get(p, "user", &c, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(a && b && c && strcmp(tokenforge_token_access_token(a), tokenforge_token_access_token(b)) == 0 &&
        strcmp(tokenforge_token_access_token(a), tokenforge_token_access_token(c)) == 0);
  CHECK(__atomic_load_n(changes, __ATOMIC_ACQUIRE) == c1); /* cached gets change nothing */
  /* The same by name. */
  const uint64_t *by_name = NULL;
  CHECK(tokenforge_pipeline_step_changes(p, "user", &by_name, NULL) == TOKENFORGE_RESULT_OK && by_name == changes);
  CHECK(tokenforge_pipeline_step_changes(p, "nope", &by_name, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(tokenforge_pipeline_step_changes(p, "user", NULL, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_token *e = NULL;
  uint64_t e_at = 0;
  int64_t e_fresh = 0;
  CHECK(tokenforge_pipeline_get_cacheable(p, "user", &e, &e_at, &e_fresh, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(e && e_at == c1 && e_fresh == fresh_until &&
        strcmp(tokenforge_token_access_token(e), tokenforge_token_access_token(a)) == 0);
  tokenforge_token_free(e);
  /* Invalidating a dependency drops user too: the counter moves. */
  CHECK(tokenforge_pipeline_invalidate(p, "app", NULL) == TOKENFORGE_RESULT_OK);
  CHECK(__atomic_load_n(changes, __ATOMIC_ACQUIRE) > c1);
  CHECK(tokenforge_step_get(user, NULL, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT);
  tokenforge_token *none_t = NULL;
  CHECK(tokenforge_step_get(NULL, &none_t, NULL) == TOKENFORGE_RESULT_INVALID_ARGUMENT && none_t == NULL);
  tokenforge_token_free(b);
  b = NULL;
  CHECK(tokenforge_step_get_cacheable(user, &b, NULL, NULL, NULL) == TOKENFORGE_RESULT_OK); /* nullable outs */
  /* The pipeline cannot be configured while a handle shares it. */
  err = NULL;
  CHECK(tokenforge_pipeline_set_refresh_margin_ms(p, 1000, &err) == TOKENFORGE_RESULT_CONFIG);
  CHECK(err && strstr(tokenforge_error_message(err), "step handle"));
  tokenforge_error_free(err);
  /* The handle keeps working after the pipeline is freed. */
  tokenforge_pipeline_free(p);
  tokenforge_token *d = NULL;
  CHECK(tokenforge_step_get(user, &d, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(d && b && strcmp(tokenforge_token_access_token(d), tokenforge_token_access_token(b)) == 0);
  tokenforge_token_free(a);
  tokenforge_token_free(b);
  tokenforge_token_free(c);
  tokenforge_token_free(d);
  uint64_t last = __atomic_load_n(changes, __ATOMIC_ACQUIRE);
  tokenforge_step_free(user); /* the last reference: the pipeline's state goes */
  tokenforge_step_free(NULL);
  CHECK(__atomic_load_n(changes, __ATOMIC_ACQUIRE) > last); /* still readable, and moved on */
}

/* What a log callback saw. */
typedef struct {
  pthread_mutex_t mu;
  int lines, freed, info_fetch_succeeded, debug_lines, secrets;
} log_seen;

static void on_log(void *ud, tokenforge_log_level level, const char *line) {
  log_seen *seen = ud;
  pthread_mutex_lock(&seen->mu);
  if (strstr(line, "step=logged") != NULL) {
    seen->lines++;
    if (level == TOKENFORGE_LOG_LEVEL_INFO && strncmp(line, "info step=logged event=fetch_succeeded took_ms=", 47) == 0)
      seen->info_fetch_succeeded++;
    if (level == TOKENFORGE_LOG_LEVEL_DEBUG) seen->debug_lines++;
    if (strstr(line, "c-secret") != NULL || strstr(line, "cc-") != NULL) seen->secrets++;
  }
  pthread_mutex_unlock(&seen->mu);
}

static void log_freed(void *ud) { ((log_seen *)ud)->freed++; }

static void test_log_callback(void) {
  log_seen seen = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0};
  CHECK(tokenforge_set_log_callback(TOKENFORGE_LOG_LEVEL_INFO, on_log, &seen, log_freed) == TOKENFORGE_RESULT_OK);
  tokenforge_pipeline *p = from_json(
      "{\"steps\":[{\"name\":\"logged\",\"kind\":\"client_credentials\",\"token_url\":\"%s/oauth/token\","
      "\"client_id\":\"c\",\"client_secret\":\"c-secret\"}]}");
  tokenforge_token *t = NULL;
  CHECK(p != NULL && tokenforge_pipeline_get(p, "logged", &t, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_token_free(t);
  t = NULL;
  CHECK(tokenforge_pipeline_get(p, "logged", &t, NULL) == TOKENFORGE_RESULT_OK); /* a cache hit: debug */
  tokenforge_token_free(t);
  CHECK(seen.info_fetch_succeeded == 1 && seen.debug_lines == 0 && seen.secrets == 0);
  /* A bad level changes nothing, and the userdata it was given is released at once. */
  log_seen other = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0};
  CHECK(tokenforge_set_log_callback((tokenforge_log_level)9, on_log, &other, log_freed) ==
        TOKENFORGE_RESULT_INVALID_ARGUMENT);
  CHECK(other.freed == 1 && seen.freed == 0);
  /* Debug sees cache hits; replacing the callback releases the earlier userdata. */
  CHECK(tokenforge_set_log_callback(TOKENFORGE_LOG_LEVEL_DEBUG, on_log, &other, log_freed) == TOKENFORGE_RESULT_OK);
  CHECK(seen.freed == 1);
  t = NULL;
  CHECK(tokenforge_pipeline_get(p, "logged", &t, NULL) == TOKENFORGE_RESULT_OK);
  tokenforge_token_free(t);
  CHECK(other.debug_lines == 1);
  /* NULL goes back to TOKENFORGE_LOG (unset here): nothing more arrives. */
  CHECK(tokenforge_set_log_callback(TOKENFORGE_LOG_LEVEL_INFO, NULL, NULL, NULL) == TOKENFORGE_RESULT_OK);
  CHECK(other.freed == 2); /* once for the refused call, once now */
  int before = other.lines;
  tokenforge_pipeline_invalidate(p, "logged", NULL);
  CHECK(other.lines == before);
  tokenforge_pipeline_free(p);
}

int main(void) {
  test_log_callback();
  test_json_pipeline_cache_and_invalidation();
  test_step_handles();
  test_bad_input();
  test_storage_reuse();
  test_reentrancy();
  test_threads();
  test_add_and_remove_while_serving();
  test_failing_store_never_fails_a_get();
  test_free_during_a_background_renewal();
  test_file_store();
  test_redis_store_arguments();
  test_custom_store_with_leases();
  return summary("pipeline");
}
