/* Error handling: what a failed fetch tells you, and how to decide whether to retry. */
#include "example_util.h"

/* Prints every field of the error, as a log line would. */
static void log_error(const tokenforge_error *e) {
  printf("  code:        %s\n", tokenforge_result_name(tokenforge_error_code(e)));
  printf("  message:     %s\n", tokenforge_error_message(e));
  printf("  step:        %s\n", tokenforge_error_step(e) ? tokenforge_error_step(e) : "(none)");
  printf("  http status: %d\n", tokenforge_error_http_status(e));
  if (tokenforge_error_oauth_error(e) != NULL) {
    printf("  oauth error: %s (%s)\n", tokenforge_error_oauth_error(e),
           tokenforge_error_oauth_description(e) ? tokenforge_error_oauth_description(e) : "no description");
  }
  if (tokenforge_error_retry_after_ms(e) >= 0) {
    printf("  retry after: %lld ms\n", (long long)tokenforge_error_retry_after_ms(e));
  }
  printf("  retryable:   %s\n", tokenforge_error_is_retryable(e) ? "yes" : "no");
}

/* Fetches once and returns the result code, printing the error. */
static tokenforge_result try_fetch(tokenforge_fetcher_builder *b) {
  tokenforge_fetcher *f = NULL;
  tokenforge_token *t = NULL;
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_fetcher_builder_build(b, &f, &err);
  if (rc == TOKENFORGE_RESULT_OK) rc = tokenforge_fetcher_fetch(f, NULL, &t, &err);
  if (rc == TOKENFORGE_RESULT_OK) {
    example_print_token("Token", t);
  } else {
    log_error(err);
  }
  tokenforge_error_free(err);
  tokenforge_token_free(t);
  tokenforge_fetcher_free(f);
  return rc;
}

int main(void) {
  const char *base = example_base_url();
  char token_url[512];
  snprintf(token_url, sizeof token_url, "%s/oauth/token", base);
  int failures = 0;

  puts("1. Wrong client secret: the server's OAuth error, never the secret.");
  failures += try_fetch(tokenforge_fetcher_builder_new_client_credentials("robust_token", token_url, "id", "wrong", NULL)) !=
              TOKENFORGE_RESULT_OAUTH;

  puts("2. Rate limited for 2 minutes, deadline 2 s: no waiting past the deadline.");
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_body("limited", base, "/ratelimit/example/120");
  tokenforge_fetcher_builder_set_timeout_ms(b, 2000);
  failures += try_fetch(b) != TOKENFORGE_RESULT_HTTP_STATUS;

  puts("3. A server that fails twice with 503: retried with backoff, then a token.");
  b = tokenforge_fetcher_builder_new_body("flaky", base, "/flaky/example/2");
  tokenforge_fetcher_builder_set_retry(b, 3, 50);
  failures += try_fetch(b) != TOKENFORGE_RESULT_OK;

  puts("4. A response without the token field.");
  b = tokenforge_fetcher_builder_new_body("custom", base, "/nested");
  failures += try_fetch(b) != TOKENFORGE_RESULT_RESPONSE;

  puts("5. Bad options are refused where they are set, and the builder stays usable.");
  b = tokenforge_fetcher_builder_new_body("bad", base, "/token");
  tokenforge_result rc = tokenforge_fetcher_builder_set_method(b, "DELETE");
  printf("  set_method(\"DELETE\"): %s\n", tokenforge_result_name(rc));
  failures += rc != TOKENFORGE_RESULT_INVALID_ARGUMENT;
  tokenforge_fetcher_builder_free(b);

  printf("%s\n", failures == 0 ? "All errors were as expected." : "Unexpected results.");
  return failures == 0 ? 0 : 1;
}
