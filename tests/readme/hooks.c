/* Harness of the README's request and error hook fragments: a builder b, built and fetched
   after the fragment. */
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include "tokenforge.h"

/* README_TOP */

int main(void) {
  char url[512];
  snprintf(url, sizeof url, "%s/oauth/token", getenv("TOKENFORGE_URL"));
  tokenforge_fetcher_builder *b =
      tokenforge_fetcher_builder_new_client_credentials("api", url, "my-client", "my-client-secret", NULL);
  /* README_BODY */
  tokenforge_fetcher *f = NULL;
  tokenforge_token *t = NULL;
  tokenforge_error *err = NULL;
  int failed = tokenforge_fetcher_builder_build(b, &f, &err) != TOKENFORGE_RESULT_OK ||
               tokenforge_fetcher_fetch(f, NULL, &t, &err) != TOKENFORGE_RESULT_OK;
  if (err) fprintf(stderr, "%s\n", tokenforge_error_message(err));
  tokenforge_error_free(err);
  tokenforge_token_free(t);
  tokenforge_fetcher_free(f);
  return failed;
}
