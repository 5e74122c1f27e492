/* Harness of the README's storage fragment: a pipeline p and an err; REDIS_URL is set by the
   README test to a port where nothing listens (the connection is made at first use). */
#include <stdio.h>
#include <stdlib.h>
#include "tokenforge.h"

/* README_TOP */

int main(void) {
  tokenforge_pipeline *p = tokenforge_pipeline_new();
  tokenforge_error *err = NULL;
  /* README_BODY */
  int failed = err != NULL;
  if (err) fprintf(stderr, "%s\n", tokenforge_error_message(err));
  tokenforge_error_free(err);
  tokenforge_pipeline_free(p);
  return failed;
}
