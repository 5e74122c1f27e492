/* Custom data building: the reference overrides _build_request_data to put the app token in
   the request body. Here a request hook adds it; the echo endpoint shows what was sent. */
#include "example_util.h"

static tokenforge_result add_app_token(void *userdata, const tokenforge_context *ctx, tokenforge_request *req) {
  (void)userdata;
  const tokenforge_token *app = ctx != NULL ? tokenforge_context_get(ctx, "app_token") : NULL;
  if (app == NULL) return TOKENFORGE_RESULT_OK;
  return tokenforge_request_set_data(req, "app_token", tokenforge_token_access_token(app));
}

int main(void) {
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("user_token", example_base_url(), "/echo");
  tokenforge_fetcher_builder_add_request_data(b, "username", "user");
  tokenforge_fetcher_builder_add_request_data(b, "password", "pass");
  tokenforge_fetcher_builder_add_dependency(b, "app_token");
  tokenforge_fetcher_builder_set_request_hook(b, add_app_token, NULL, NULL);
  tokenforge_fetcher *user = NULL;
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_fetcher_builder_build(b, &user, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("build", rc, err);
    return 1;
  }
  tokenforge_context *ctx = tokenforge_context_new();
  tokenforge_token *app = tokenforge_token_new("app-abc", NULL, TOKENFORGE_NO_EXPIRY, NULL);
  tokenforge_context_set(ctx, "app_token", app, NULL);
  tokenforge_token_free(app);

  tokenforge_token *t = NULL;
  rc = tokenforge_fetcher_fetch(user, ctx, &t, &err);
  int status = 1;
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("fetch", rc, err);
  } else {
    const char *body = tokenforge_token_extra(t, "body"); /* the echo server's view of the body */
    printf("The server received the body: %s\n", strstr(body, "app_token=app-abc") ? "with app_token" : "WITHOUT app_token");
    status = strstr(body, "app_token=app-abc") != NULL ? 0 : 1;
  }
  tokenforge_token_free(t);
  tokenforge_context_free(ctx);
  tokenforge_fetcher_free(user);
  return status;
}
