/* A helper of tests/peers/check.sh. peer_check JSON_FILE STEP ROUNDS SLEEP_MS [MIN_REFRESHES]:
   gets STEP ROUNDS times, SLEEP_MS apart, printing every event and the token each get returns
   (a prefix only); fails when a get fails or fewer than MIN_REFRESHES refresh grants were made. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tokenforge.h"

static const char *KINDS[] = {"CACHE_HIT", "FETCH_STARTED", "FETCH_SUCCEEDED", "FETCH_FAILED", "REFRESHED",
                              "RETRY", "INVALIDATED", "STALE_SERVED", "LOADED_FROM_STORAGE", "STORAGE_FAILED"};
static int refreshes;

static void on_event(void *ud, const tokenforge_event *e) {
  (void)ud;
  if (e->kind == TOKENFORGE_EVENT_KIND_REFRESHED) refreshes++;
  if (e->kind == TOKENFORGE_EVENT_KIND_CACHE_HIT) return;
  printf("  event %-16s %-8s %s%s\n", KINDS[e->kind], e->step, e->background ? "(background) " : "",
         e->error ? tokenforge_error_message(e->error) : "");
}
int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) return 2;
  FILE *f = fopen(argv[1], "r");
  static char json[65536];
  size_t n = fread(json, 1, sizeof json - 1, f);
  json[n] = 0;
  fclose(f);
  tokenforge_pipeline *p = NULL;
  tokenforge_error *err = NULL;
  if (tokenforge_pipeline_from_json(json, &p, &err) != TOKENFORGE_RESULT_OK) {
    printf("config: %s\n", tokenforge_error_message(err));
    return 1;
  }
  tokenforge_pipeline_set_event_hook(p, on_event, NULL, NULL, NULL);
  int fails = 0;
  for (int i = 0; i < atoi(argv[3]); i++) {
    tokenforge_token *t = NULL;
    if (tokenforge_pipeline_get(p, argv[2], &t, &err) == TOKENFORGE_RESULT_OK) {
      printf("get %d: %.12s... (refresh token %s)\n", i, tokenforge_token_access_token(t), tokenforge_token_refresh_token(t) ? "yes" : "no");
      tokenforge_token_free(t);
    } else {
      printf("get %d failed: %s\n", i, tokenforge_error_message(err));
      tokenforge_error_free(err);
      fails++;
    }
    long ms = atol(argv[4]);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  tokenforge_pipeline_free(p);
  if (argc == 6 && refreshes < atoi(argv[5])) {
    printf("only %d refresh grants, want %s\n", refreshes, argv[5]);
    fails++;
  }
  return fails != 0;
}
