/* Custom headers: the reference subclasses HeaderTokenFetcher and overrides
   _build_request_headers to add the device token. In C a request hook does it. */
#include "example_util.h"

static tokenforge_result add_device_token(void *userdata, const tokenforge_context *ctx, tokenforge_request *req) {
  (void)userdata;
  const tokenforge_token *device = ctx != NULL ? tokenforge_context_get(ctx, "device_token") : NULL;
  if (device == NULL) return TOKENFORGE_RESULT_OK; /* nothing to add */
  return tokenforge_request_set_header(req, "X-Device-Token", tokenforge_token_access_token(device));
}

int main(void) {
  const char *base = example_base_url();
  tokenforge_error *err = NULL;
  tokenforge_result rc;

  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_header("device_token", base, "/device/register");
  tokenforge_fetcher_builder_add_request_header(b, "X-Device-ID", "device-123");
  tokenforge_fetcher_builder_set_token_header(b, "X-Device-Token");
  tokenforge_fetcher *device = NULL;
  if ((rc = tokenforge_fetcher_builder_build(b, &device, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("build device_token", rc, err);
    return 1;
  }

  /* The server answers /user/auth only with a valid X-Device-Token: the hook supplies it. */
  b = tokenforge_fetcher_builder_new_body("app_token", base, "/user/auth");
  tokenforge_fetcher_builder_add_dependency(b, "device_token");
  tokenforge_fetcher_builder_set_request_hook(b, add_device_token, NULL, NULL);
  tokenforge_fetcher *app = NULL;
  if ((rc = tokenforge_fetcher_builder_build(b, &app, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("build app_token", rc, err);
    tokenforge_fetcher_free(device);
    return 1;
  }

  int status = 1;
  tokenforge_context *ctx = tokenforge_context_new();
  tokenforge_token *dev = NULL, *tok = NULL;
  if ((rc = tokenforge_fetcher_fetch(device, NULL, &dev, &err)) != TOKENFORGE_RESULT_OK ||
      (rc = tokenforge_context_set(ctx, "device_token", dev, &err)) != TOKENFORGE_RESULT_OK ||
      (rc = tokenforge_fetcher_fetch(app, ctx, &tok, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("fetch", rc, err);
  } else {
    example_print_token("device_token", dev);
    example_print_token("app_token   ", tok);
    status = 0;
  }
  tokenforge_token_free(tok);
  tokenforge_token_free(dev);
  tokenforge_context_free(ctx);
  tokenforge_fetcher_free(app);
  tokenforge_fetcher_free(device);
  return status;
}
