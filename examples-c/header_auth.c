/* Header-based authentication: the session token comes back in X-Session-Token. */
#include "example_util.h"

int main(void) {
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_header("session_token", example_base_url(), "/auth/session");
  tokenforge_fetcher_builder_set_method(b, "POST");
  tokenforge_fetcher_builder_add_request_header(b, "X-API-Key", "your-api-key");
  tokenforge_fetcher_builder_add_request_header(b, "X-Device-ID", "device-123");
  tokenforge_fetcher_builder_add_request_data(b, "username", "user");
  tokenforge_fetcher_builder_add_request_data(b, "password", "pass");
  tokenforge_fetcher_builder_set_token_header(b, "X-Session-Token");
  tokenforge_fetcher_builder_set_token_type(b, "Session");
  tokenforge_fetcher_builder_set_ttl_ms(b, 24LL * 3600 * 1000);

  tokenforge_fetcher *fetcher = NULL;
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_fetcher_builder_build(b, &fetcher, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("build", rc, err);
    return 1;
  }
  tokenforge_token *token = NULL;
  rc = tokenforge_fetcher_fetch(fetcher, NULL, &token, &err);
  tokenforge_fetcher_free(fetcher);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("fetch", rc, err);
    return 1;
  }
  example_print_token("Session", token);
  /* The "Session " prefix of the header value is stripped from the token itself. */
  int ok = strncmp(tokenforge_token_access_token(token), "sess-", 5) == 0 &&
           strncmp(tokenforge_token_authorization(token), "Session sess-", 13) == 0;
  tokenforge_token_free(token);
  return ok ? 0 : 1;
}
