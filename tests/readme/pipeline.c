/* Harness of the README's pipeline fragment ("Pipelines"): the fragment goes at README_BODY. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include "tokenforge.h"

static void use(const char *authorization) { printf("Authorization: %s\n", authorization); }

/* README_TOP */

int main(void) {
  char json_text[1024];
  snprintf(json_text, sizeof json_text,
           "{\"steps\":[{\"name\":\"user_token\",\"kind\":\"client_credentials\",\"token_url\":\"%s/oauth/token\","
           "\"client_id\":\"my-client\",\"client_secret\":\"my-client-secret\"}]}",
           getenv("TOKENFORGE_URL"));
  tokenforge_error *err = NULL;
  const char *access_token = "the-token-the-api-refused";
  bool invalidated = false;
  /* README_BODY */
  (void)invalidated;
  int failed = p == NULL || err != NULL;
  if (err) fprintf(stderr, "%s\n", tokenforge_error_message(err));
  tokenforge_error_free(err);
  tokenforge_pipeline_free(p);
  return failed;
}
