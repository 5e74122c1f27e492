/* Simple OAuth2 flow: one body fetcher posting the client_credentials grant as a form. */
#include "example_util.h"

int main(void) {
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("oauth_token", example_base_url(), "/oauth/token");
  tokenforge_fetcher_builder_set_method(b, "POST");
  tokenforge_fetcher_builder_add_request_data(b, "grant_type", "client_credentials");
  tokenforge_fetcher_builder_add_request_data(b, "client_id", "your-client-id");
  tokenforge_fetcher_builder_add_request_data(b, "client_secret", "your-client-id-secret");
  tokenforge_fetcher_builder_add_request_data(b, "scope", "read write offline");
  tokenforge_fetcher_builder_set_content_type(b, TOKENFORGE_CONTENT_TYPE_FORM);
  tokenforge_fetcher_builder_set_token_field(b, "access_token");
  tokenforge_fetcher_builder_set_expires_in_field(b, "expires_in");
  tokenforge_fetcher_builder_set_refresh_token_field(b, "refresh_token");

  tokenforge_fetcher *fetcher = NULL;
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_fetcher_builder_build(b, &fetcher, &err); /* consumes b */
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("build", rc, err);
    return 1;
  }
  tokenforge_token *token = NULL;
  rc = tokenforge_fetcher_fetch(fetcher, NULL, &token, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("fetch", rc, err);
    tokenforge_fetcher_free(fetcher);
    return 1;
  }
  example_print_token("Token", token);
  printf("Scope: %s\n", tokenforge_token_scope(token));
  int ok = tokenforge_token_refresh_token(token) != NULL && !tokenforge_token_is_expired(token, 60000);
  tokenforge_token_free(token);
  tokenforge_fetcher_free(fetcher);
  return ok ? 0 : 1;
}
