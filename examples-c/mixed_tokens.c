/* Mixed header and body tokens: a device token from a response header, then a user token
   from a JSON body, requested with the device token. */
#include "example_util.h"

int main(void) {
  const char *base = example_base_url();
  tokenforge_error *err = NULL;
  tokenforge_result rc;

  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_header("device_token", base, "/device/register");
  tokenforge_fetcher_builder_add_request_header(b, "X-Device-ID", "device-123");
  tokenforge_fetcher_builder_set_token_header(b, "X-Device-Token");
  tokenforge_fetcher_builder_set_ttl_ms(b, 30LL * 24 * 3600 * 1000);
  tokenforge_fetcher *device = NULL;
  if ((rc = tokenforge_fetcher_builder_build(b, &device, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("build device_token", rc, err);
    return 1;
  }

  b = tokenforge_fetcher_builder_new_body("user_token", base, "/user/auth");
  tokenforge_fetcher_builder_add_dependency(b, "device_token");
  tokenforge_fetcher_builder_add_request_header(b, "X-Device-Token", "{{device_token.access_token}}");
  tokenforge_fetcher_builder_add_request_data(b, "username", "user");
  tokenforge_fetcher_builder_add_request_data(b, "password", "pass");
  tokenforge_fetcher_builder_set_ttl_ms(b, 15 * 60 * 1000);
  tokenforge_fetcher *user = NULL;
  if ((rc = tokenforge_fetcher_builder_build(b, &user, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("build user_token", rc, err);
    tokenforge_fetcher_free(device);
    return 1;
  }

  int status = 1;
  tokenforge_context *ctx = tokenforge_context_new();
  tokenforge_token *device_token = NULL, *user_token = NULL;
  if ((rc = tokenforge_fetcher_fetch(device, NULL, &device_token, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("device_token", rc, err);
    goto done;
  }
  example_print_token("device_token", device_token);
  tokenforge_context_set(ctx, "device_token", device_token, NULL);
  if ((rc = tokenforge_fetcher_fetch(user, ctx, &user_token, &err)) != TOKENFORGE_RESULT_OK) {
    example_report("user_token", rc, err);
    goto done;
  }
  example_print_token("user_token  ", user_token);
  status = 0;
done:
  tokenforge_token_free(user_token);
  tokenforge_token_free(device_token);
  tokenforge_context_free(ctx);
  tokenforge_fetcher_free(user);
  tokenforge_fetcher_free(device);
  return status;
}
