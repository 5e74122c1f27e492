/* The tiny harness of tokenforge's C tests: CHECK counts, a summary line closes the run. */
#ifndef TOKENFORGE_TEST_CHECK_H
#define TOKENFORGE_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

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

/* Prints "<suite>: N passed, N failed" and gives the exit status. */
static inline int summary(const char *suite) {
  printf("%s: %d passed, %d failed\n", suite, passed, failed);
  return failed == 0 ? 0 : 1;
}

#endif
