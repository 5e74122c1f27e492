#define _POSIX_C_SOURCE 200809L
/* Harness of the README's custom fetcher fragment: f, err, state and free_state; the fetcher
   runs in a pipeline with the device_token step it depends on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenforge.h"

static const char *compute_token(void *state) { return (const char *)state; }
static void free_state(void *state) { free(state); }

/* README_TOP */

int main(void) {
  tokenforge_fetcher *f = NULL;
  tokenforge_error *err = NULL;
  char *state = strdup("computed-token");
  /* README_BODY */
  int failed = f == NULL;
  tokenforge_pipeline *p = tokenforge_pipeline_new();
  tokenforge_fetcher *device = NULL;
  const char *no_deps[] = {NULL};
  char *device_state = strdup("device");
  failed |= tokenforge_fetcher_new_custom("device_token", no_deps, 0, 3600000, my_fetch, device_state, free_state,
                                          &device, &err) != TOKENFORGE_RESULT_OK;
  failed |= tokenforge_pipeline_add(p, device, &err) != TOKENFORGE_RESULT_OK;
  failed |= tokenforge_pipeline_add(p, f, &err) != TOKENFORGE_RESULT_OK;
  tokenforge_token *t = NULL;
  failed |= tokenforge_pipeline_get(p, "custom_token", &t, &err) != TOKENFORGE_RESULT_OK;
  if (t) printf("%s\n", tokenforge_token_authorization(t));
  if (err) fprintf(stderr, "%s\n", tokenforge_error_message(err));
  tokenforge_token_free(t);
  tokenforge_error_free(err);
  tokenforge_fetcher_free(device);
  tokenforge_fetcher_free(f);
  tokenforge_pipeline_free(p);
  return failed;
}
