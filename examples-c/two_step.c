/* Two-step flow: an app token, then a user token whose request carries the app token. The
   reference subclasses the fetcher to add the header; here a template does it. */
#include "example_util.h"

static tokenforge_fetcher *build(tokenforge_fetcher_builder *b) {
  tokenforge_fetcher *f = NULL;
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_fetcher_builder_build(b, &f, &err);
  if (rc != TOKENFORGE_RESULT_OK) example_report("build", rc, err);
  return f;
}

int main(void) {
  const char *base = example_base_url();

  /* Step 1: app token, from the "token" field, cached for an hour. */
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("app_token", base, "/v1/app/token");
  tokenforge_fetcher_builder_add_request_data(b, "client_id", "app-id");
  tokenforge_fetcher_builder_add_request_data(b, "client_secret", "app-id-secret");
  tokenforge_fetcher_builder_set_token_field(b, "token");
  tokenforge_fetcher_builder_set_ttl_ms(b, 3600 * 1000);
  tokenforge_fetcher *app = build(b);

  /* Step 2: user token; X-App-Token comes from the app_token step. */
  b = tokenforge_fetcher_builder_new_body("user_token", base, "/v1/user/token");
  tokenforge_fetcher_builder_add_dependency(b, "app_token");
  tokenforge_fetcher_builder_add_request_header(b, "X-App-Token", "{{app_token.access_token}}");
  tokenforge_fetcher_builder_add_request_data(b, "username", "user@example.com");
  tokenforge_fetcher_builder_add_request_data(b, "password", "password123");
  tokenforge_fetcher_builder_set_ttl_ms(b, 30 * 60 * 1000);
  tokenforge_fetcher *user = build(b);
  if (app == NULL || user == NULL) {
    tokenforge_fetcher_free(app);
    tokenforge_fetcher_free(user);
    return 1;
  }

  int status = 1;
  tokenforge_context *ctx = tokenforge_context_new();
  tokenforge_token *app_token = NULL, *user_token = NULL;
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_fetcher_fetch(app, NULL, &app_token, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("app_token", rc, err);
    goto done;
  }
  example_print_token("app_token ", app_token);
  if ((rc = tokenforge_context_set(ctx, "app_token", app_token, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("context", rc, err);
    goto done;
  }
  rc = tokenforge_fetcher_fetch(user, ctx, &user_token, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("user_token", rc, err);
    goto done;
  }
  example_print_token("user_token", user_token);
  printf("Authorization: %.13s...\n", tokenforge_token_authorization(user_token));
  status = 0;
done:
  tokenforge_token_free(user_token);
  tokenforge_token_free(app_token);
  tokenforge_context_free(ctx);
  tokenforge_fetcher_free(user);
  tokenforge_fetcher_free(app);
  return status;
}
