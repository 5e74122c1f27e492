/* Custom token fetcher: the step's logic is entirely the caller's. This one calls a
   proprietary endpoint (through a helper fetcher), and makes a "Custom" token whose lifetime
   is the response's "ttl". */
#include "example_util.h"

typedef struct {
  tokenforge_fetcher *http; /* POST /custom/auth with the API key */
} custom_auth;

static tokenforge_result custom_fetch(void *userdata, const tokenforge_context *ctx, tokenforge_token **out,
                                      tokenforge_error **err) {
  (void)ctx;
  custom_auth *auth = userdata;
  tokenforge_token *raw = NULL;
  tokenforge_result rc = tokenforge_fetcher_fetch(auth->http, NULL, &raw, err);
  if (rc != TOKENFORGE_RESULT_OK) return rc; /* the helper's error goes to the caller as it is */
  *out = tokenforge_token_new(tokenforge_token_access_token(raw), "Custom", tokenforge_token_expires_at_ms(raw), NULL);
  printf("custom logic: session %s\n", tokenforge_token_extra(raw, "session"));
  tokenforge_token_free(raw);
  if (*out == NULL) {
    *err = tokenforge_error_new(TOKENFORGE_RESULT_RESPONSE, "custom token was unusable");
    return TOKENFORGE_RESULT_RESPONSE;
  }
  return TOKENFORGE_RESULT_OK;
}

static void free_auth(void *userdata) {
  custom_auth *auth = userdata;
  tokenforge_fetcher_free(auth->http);
  free(auth);
}

int main(void) {
  custom_auth *auth = calloc(1, sizeof *auth);
  if (auth == NULL) return 1;
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("custom_auth", example_base_url(), "/custom/auth");
  tokenforge_fetcher_builder_add_request_header(b, "X-API-Key", "your-key");
  tokenforge_fetcher_builder_add_request_data(b, "action", "authenticate");
  tokenforge_fetcher_builder_set_content_type(b, TOKENFORGE_CONTENT_TYPE_JSON);
  tokenforge_fetcher_builder_set_token_field(b, "custom_token");
  tokenforge_fetcher_builder_set_expires_in_field(b, "ttl");
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_fetcher_builder_build(b, &auth->http, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("build helper", rc, err);
    free(auth);
    return 1;
  }

  /* From here the library owns `auth` and calls free_auth exactly once. */
  tokenforge_fetcher *custom = NULL;
  rc = tokenforge_fetcher_new_custom("custom_token", NULL, 0, 3600 * 1000, custom_fetch, auth, free_auth, &custom, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("new_custom", rc, err);
    return 1;
  }
  tokenforge_token *t = NULL;
  int status = 1;
  if ((rc = tokenforge_fetcher_fetch(custom, NULL, &t, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("fetch", rc, err);
  } else {
    example_print_token("custom_token", t);
    status = strncmp(tokenforge_token_authorization(t), "Custom cust-", 12) == 0 ? 0 : 1;
  }
  tokenforge_token_free(t);
  tokenforge_fetcher_free(custom);
  return status;
}
