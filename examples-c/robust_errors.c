/* Robust error handling: the reference overrides on_fetch_error to log and alert. In C an
   error hook hears of every failed fetch, with the error and the context. */
#include "example_util.h"

typedef struct {
  int alerts;
} alerting;

static void on_fetch_error(void *userdata, const tokenforge_error *e, const tokenforge_context *ctx) {
  alerting *a = userdata;
  fprintf(stdout, "log: token fetch failed for %s: %s (context holds %zu tokens)\n", tokenforge_error_step(e),
          tokenforge_error_message(e), ctx != NULL ? tokenforge_context_len(ctx) : (size_t)0);
  if (!tokenforge_error_is_retryable(e)) {
    a->alerts++;
    fprintf(stdout, "alert: %s needs a person (%s)\n", tokenforge_error_step(e), tokenforge_result_name(tokenforge_error_code(e)));
  }
}

int main(void) {
  char token_url[512];
  snprintf(token_url, sizeof token_url, "%s/oauth/token", example_base_url());
  alerting a = {0};
  tokenforge_fetcher_builder *b = tokenforge_fetcher_builder_new_client_credentials("robust_token", token_url, "id", "not-the-secret", NULL);
  tokenforge_fetcher_builder_set_error_hook(b, on_fetch_error, &a, NULL);
  tokenforge_fetcher *f = NULL;
  tokenforge_error *err = NULL;
  tokenforge_result rc = tokenforge_fetcher_builder_build(b, &f, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    example_report("build", rc, err);
    return 1;
  }
  tokenforge_token *t = NULL;
  rc = tokenforge_fetcher_fetch(f, NULL, &t, &err);
  if (rc != TOKENFORGE_RESULT_OK) {
    printf("Fetch failed: %s\nService: %s\n", tokenforge_error_message(err), tokenforge_error_step(err));
    tokenforge_error_free(err);
  }
  tokenforge_token_free(t);
  tokenforge_fetcher_free(f);
  return rc == TOKENFORGE_RESULT_OAUTH && a.alerts == 1 ? 0 : 1;
}
