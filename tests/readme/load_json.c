/* Loads the pipeline JSON in the file argv[1]; prints the error and exits 1 when it fails. */
#include <stdio.h>
#include <stdlib.h>
#include "tokenforge.h"

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  FILE *in = fopen(argv[1], "rb");
  if (!in) return 2;
  static char text[1 << 16];
  size_t n = fread(text, 1, sizeof text - 1, in);
  fclose(in);
  text[n] = '\0';
  tokenforge_pipeline *p = NULL;
  tokenforge_error *err = NULL;
  if (tokenforge_pipeline_from_json(text, &p, &err) != TOKENFORGE_RESULT_OK) {
    printf("%s\n", tokenforge_error_message(err));
    tokenforge_error_free(err);
    return 1;
  }
  tokenforge_pipeline_free(p);
  return 0;
}
