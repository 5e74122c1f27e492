/* The tiny harness of tokenforge's C tests: CHECK counts, a summary line closes the run. */
#ifndef TOKENFORGE_TEST_CHECK_H
#define TOKENFORGE_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "tokenforge.h"

static int passed, failed;

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (cond) {                                                                          \
      passed++;                                                                          \
    } else {                                                                             \
      failed++;                                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
    }                                                                                    \
  } while (0)

/* The loopback token server, started by `make` (scripts/with-server.sh). */
static inline const char *base_url(void) {
  const char *u = getenv("TOKENFORGE_URL");
  return u ? u : "http://127.0.0.1:8080";
}

/* How many requests the server has had on `path` (its /_count route). */
static inline long server_count(const char *path) {
  char endpoint[256];
  snprintf(endpoint, sizeof endpoint, "/_count%s", path);
  tokenforge_fetcher *f = NULL;
  tokenforge_fetcher_builder_build(tokenforge_fetcher_builder_new_body("count", base_url(), endpoint), &f, NULL);
  tokenforge_token *t = NULL;
  long n = -1;
  if (tokenforge_fetcher_fetch(f, NULL, &t, NULL) == TOKENFORGE_RESULT_OK) n = atol(tokenforge_token_extra(t, "count"));
  tokenforge_token_free(t);
  tokenforge_fetcher_free(f);
  return n;
}

/* Prints "<suite>: N passed, N failed" and gives the exit status. */
static inline int summary(const char *suite) {
  printf("%s: %d passed, %d failed\n", suite, passed, failed);
  return failed == 0 ? 0 : 1;
}

#endif
