/* Helpers shared by the tokenforge C examples. */
#ifndef TOKENFORGE_EXAMPLE_UTIL_H
#define TOKENFORGE_EXAMPLE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenforge.h"

/* The token server: $TOKENFORGE_URL (set by `make`), else a local default. */
static inline const char *example_base_url(void) {
  const char *url = getenv("TOKENFORGE_URL");
  return url != NULL ? url : "http://127.0.0.1:8080";
}

/* Prints a failed call's error and frees it. */
static inline void example_report(const char *what, tokenforge_result rc, tokenforge_error *err) {
  fprintf(stderr, "%s failed: %s: %s\n", what, tokenforge_result_name(rc), tokenforge_error_message(err));
  tokenforge_error_free(err);
}

/* A token shortened for printing: secrets do not belong in logs. */
static inline void example_print_token(const char *label, const tokenforge_token *t) {
  const char *access = tokenforge_token_access_token(t);
  int64_t expires = tokenforge_token_expires_at_ms(t);
  printf("%s: %.6s... (type %s", label, access, tokenforge_token_token_type(t));
  if (expires == TOKENFORGE_NO_EXPIRY) {
    printf(", no known expiry");
  } else {
    printf(", expires in %lld s", (long long)((expires - (int64_t)time(NULL) * 1000) / 1000));
  }
  printf(", refresh token: %s)\n", tokenforge_token_refresh_token(t) != NULL ? "yes" : "no");
}

#endif
