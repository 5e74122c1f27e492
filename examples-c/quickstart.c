#include <stdio.h>
#include <stdlib.h>
#include "tokenforge.h"

int main(void) {
  /* scripts/with-server.sh sets TOKENFORGE_URL to the loopback token server; yours might be
     https://auth.example.com. */
  const char *base = getenv("TOKENFORGE_URL");
  char token_url[512];
  snprintf(token_url, sizeof token_url, "%s/oauth/token", base ? base : "https://auth.example.com");

  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_client_credentials(
      "api", token_url, "my-client", "my-client-secret", "read");
  tokenforge_fetcher *f = NULL;
  tokenforge_token *t = NULL;
  tokenforge_error *err = NULL;
  if (tokenforge_fetcher_builder_build(b, &f, &err) == TOKENFORGE_RESULT_OK && /* consumes b */
      tokenforge_fetcher_fetch(f, NULL, &t, &err) == TOKENFORGE_RESULT_OK) {
    printf("Authorization: %s\n", tokenforge_token_authorization(t));
  } else {
    fprintf(stderr, "%s\n", tokenforge_error_message(err)); /* never contains a secret */
  }
  int failed = t == NULL;
  tokenforge_error_free(err); /* every *_free accepts NULL */
  tokenforge_token_free(t);   /* zeroes the token's memory */
  tokenforge_fetcher_free(f);
  return failed;
}
