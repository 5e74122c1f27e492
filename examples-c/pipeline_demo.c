/* The pipeline demo: a three-step token flow configured in JSON (a device token from a
   response header, an app token from an OAuth2 client_credentials body, and a user token
   that needs both), run against the loopback token server, on a file store in a temporary
   directory. It prints where each token came from and how long it took, then shows a cache
   hit, an invalidation, and a second process that finds every token in the store. */
#define _POSIX_C_SOURCE 200809L /* fork, mkdtemp */
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "example_util.h"

/* The last thing the event hook saw for a step: how its token was obtained. */
typedef struct {
  char step[32];
  const char *source;
  long long micros;
} last_event;

typedef struct {
  last_event steps[8];
  int n;
} event_log;

static void on_event(void *userdata, const tokenforge_event *e) {
  event_log *log = userdata;
  const char *source = NULL;
  switch (e->kind) {
    case TOKENFORGE_EVENT_KIND_CACHE_HIT: source = "cached"; break;
    case TOKENFORGE_EVENT_KIND_FETCH_SUCCEEDED: source = "fetched"; break;
    case TOKENFORGE_EVENT_KIND_REFRESHED: source = "refreshed"; break;
    case TOKENFORGE_EVENT_KIND_LOADED_FROM_STORAGE: source = "from storage"; break;
    case TOKENFORGE_EVENT_KIND_STALE_SERVED: source = "stale (refresh failed)"; break;
    case TOKENFORGE_EVENT_KIND_INVALIDATED: printf("  event: %s invalidated\n", e->step); return;
    default: return;
  }
  int i = 0;
  while (i < log->n && strcmp(log->steps[i].step, e->step) != 0) i++;
  if (i == log->n && log->n < 8) snprintf(log->steps[log->n++].step, sizeof log->steps[0].step, "%s", e->step);
  if (i < 8 && log->steps[i].source == NULL) { /* the first event of a round says how it came */
    log->steps[i].source = source;
    log->steps[i].micros = (long long)e->duration_us;
  }
}

/* Starts a new round of questions. */
static void new_round(event_log *log) { memset(log, 0, sizeof *log); }

static const char *source_of(const event_log *log, const char *step) {
  for (int i = 0; i < log->n; i++) {
    if (strcmp(log->steps[i].step, step) == 0) return log->steps[i].source;
  }
  return "?";
}

/* How long getting the token took: the fetch, as its event said, or else this get call. */
static const char *took_of(const event_log *log, const char *step, long long get_ns) {
  static char took[32];
  snprintf(took, sizeof took, "in %.1f us", (double)get_ns / 1000.0);
  for (int i = 0; i < log->n; i++) {
    if (strcmp(log->steps[i].step, step) == 0 && log->steps[i].micros > 0)
      snprintf(took, sizeof took, "in %.1f ms", (double)log->steps[i].micros / 1000.0);
  }
  return took;
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int show(const tokenforge_pipeline *p, event_log *log, const char *step) {
  tokenforge_token *t = NULL;
  tokenforge_error *err = NULL;
  long long start = now_ns();
  tokenforge_result rc = tokenforge_pipeline_get(p, step, &t, &err);
  long long get_ns = now_ns() - start;
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report(step, rc, err);
    return 1;
  }
  int64_t expires = tokenforge_token_expires_at_ms(t);
  char expiry[64];
  long long left = expires == TOKENFORGE_NO_EXPIRY ? -1 : (long long)((expires - (int64_t)time(NULL) * 1000) / 1000);
  if (left < 0) {
    snprintf(expiry, sizeof expiry, "no expiry given (kept 10 min)");
  } else if (left >= 86400) {
    snprintf(expiry, sizeof expiry, "expires in %lld days", left / 86400);
  } else if (left >= 3600) {
    snprintf(expiry, sizeof expiry, "expires in %lld h", left / 3600);
  } else {
    snprintf(expiry, sizeof expiry, "expires in %lld min", left / 60);
  }
  char shown[16]; /* a token is a secret: show its start only */
  snprintf(shown, sizeof shown, "%.8s...", tokenforge_token_access_token(t));
  printf("  %-13s %-12s %-13s %-18s %s\n", step, shown, source_of(log, step), took_of(log, step, get_ns), expiry);
  tokenforge_token_free(t);
  return 0;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  char *buf = calloc(1, 65536);
  size_t n = buf ? fread(buf, 1, 65535, f) : 0;
  fclose(f);
  if (buf != NULL && n == 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "examples-c/demo_pipeline.json";
  char *json = read_file(path);
  if (json == NULL) {
    fprintf(stderr, "cannot read %s\n", path);
    return 1;
  }
  /* A file store that the processes of this machine share (mode 0700, files 0600). */
  char dir[] = "/tmp/tokenforge-demo-XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  tokenforge_storage *store = NULL;
  tokenforge_pipeline *p = NULL;
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_storage_new_file(dir, &store, &err);
  if (rc == TOKENFORGE_RESULT_OK) rc = tokenforge_pipeline_from_json(json, &p, &err);
  if (rc == TOKENFORGE_RESULT_OK) rc = tokenforge_pipeline_set_storage(p, store, "demo", &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("setting up the pipeline", rc, err);
    tokenforge_pipeline_free(p);
    tokenforge_storage_free(store);
    free(json);
    rmdir(dir);
    return 1;
  }
  event_log log = {0};
  tokenforge_pipeline_set_event_hook(p, on_event, &log, NULL, NULL);

  int failures = 0;
  printf("tokenforge %s: pipeline from %s against %s, tokens shared through the file store %s\n\n",
         tokenforge_version(), path, example_base_url(), dir);
  printf("1. Ask for user_token: its dependencies are fetched first (in parallel), then it.\n");
  failures += show(p, &log, "user_token");
  failures += show(p, &log, "device_token");
  failures += show(p, &log, "app_token");

  new_round(&log);
  printf("\n2. Ask again: every token is still fresh, so nothing is fetched.\n");
  failures += show(p, &log, "user_token");

  new_round(&log);
  printf("\n3. Invalidate app_token (say an API answered 401): user_token is derived from it and goes too.\n");
  if ((rc = tokenforge_pipeline_invalidate(p, "app_token", &err)) != TOKENFORGE_RESULT_OK) {
    example_report("invalidate", rc, err);
    failures++;
  }
  failures += show(p, &log, "user_token");
  failures += show(p, &log, "app_token");
  failures += show(p, &log, "device_token");

  printf("\n4. A second process, with its own pipeline on the same file store: it finds every token\n"
         "   there, and the token server is not asked.\n");
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    tokenforge_pipeline *second = NULL;
    int bad = tokenforge_pipeline_from_json(json, &second, NULL) != TOKENFORGE_RESULT_OK ||
              tokenforge_pipeline_set_storage(second, store, "demo", NULL) != TOKENFORGE_RESULT_OK;
    event_log child_log = {0};
    if (!bad) {
      tokenforge_pipeline_set_event_hook(second, on_event, &child_log, NULL, NULL);
      printf("  (process %d)\n", (int)getpid());
      bad += show(second, &child_log, "user_token");
      bad += show(second, &child_log, "device_token");
      bad += show(second, &child_log, "app_token");
    }
    tokenforge_pipeline_free(second);
    tokenforge_pipeline_free(p);
    tokenforge_storage_free(store);
    free(json);
    fflush(stdout);
    _exit(bad == 0 ? 0 : 1);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failures++;

  tokenforge_pipeline_free(p);
  tokenforge_storage_free(store);
  free(json);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) failures++;
  printf("\n%s\n", failures == 0 ? "Done." : "Something failed.");
  return failures == 0 ? 0 : 1;
}
