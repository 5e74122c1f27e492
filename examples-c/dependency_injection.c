/* Dependency injection: one step that needs three earlier tokens, two in headers and one in
   the body, all from one request hook. */
#include "example_util.h"

static tokenforge_result inject(void *userdata, const tokenforge_context *ctx, tokenforge_request *req) {
  (void)userdata;
  static const char *const targets[][3] = {
      {"device_token", "header", "X-Device"},
      {"app_token", "header", "X-App"},
      {"session_token", "data", "session"},
  };
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    const tokenforge_token *t = tokenforge_context_get(ctx, targets[i][0]);
    if (t == NULL) continue;
    const char *value = tokenforge_token_access_token(t);
    tokenforge_result rc = strcmp(targets[i][1], "header") == 0 ? tokenforge_request_set_header(req, targets[i][2], value)
                                                                 : tokenforge_request_set_data(req, targets[i][2], value);
    if (rc != TOKENFORGE_RESULT_OK) return rc;
  }
  return TOKENFORGE_RESULT_OK;
}

int main(void) {
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("final_token", example_base_url(), "/echo");
  tokenforge_fetcher_builder_add_request_data(b, "username", "user");
  tokenforge_fetcher_builder_add_dependency(b, "device_token");
  tokenforge_fetcher_builder_add_dependency(b, "app_token");
  tokenforge_fetcher_builder_add_dependency(b, "session_token");
  tokenforge_fetcher_builder_set_request_hook(b, inject, NULL, NULL);
  tokenforge_fetcher *f = NULL;
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_fetcher_builder_build(b, &f, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("build", rc, err);
    return 1;
  }
  tokenforge_context *ctx = tokenforge_context_new();
  const char *names[] = {"device_token", "app_token", "session_token"};
  const char *values[] = {"dev-1", "app-2", "sess-3"};
  for (int i = 0; i < 3; i++) {
    tokenforge_token *t = tokenforge_token_new(values[i], NULL, TOKENFORGE_NO_EXPIRY, NULL);
    tokenforge_context_set(ctx, names[i], t, NULL);
    tokenforge_token_free(t);
  }
  tokenforge_token *t = NULL;
  int status = 1;
  if ((rc = tokenforge_fetcher_fetch(f, ctx, &t, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("fetch", rc, err);
  } else {
    printf("X-Device: %s\nX-App:    %s\nbody:     %s\n", tokenforge_token_extra(t, "header.x-device"),
           tokenforge_token_extra(t, "header.x-app"), tokenforge_token_extra(t, "body"));
    status = strcmp(tokenforge_token_extra(t, "body"), "username=user&session=sess-3") == 0 ? 0 : 1;
  }
  tokenforge_token_free(t);
  tokenforge_context_free(ctx);
  tokenforge_fetcher_free(f);
  return status;
}
