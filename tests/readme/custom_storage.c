/* Harness of the README's custom storage fragment: a one-entry store behind callbacks, used by
   a pipeline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenforge.h"

struct db {
  tokenforge_token *token;
};

static tokenforge_result my_store(void *ud, const char *key, const tokenforge_token *t, tokenforge_error **err) {
  struct db *db = ud;
  (void)key, (void)err;
  tokenforge_token_free(db->token);
  db->token = tokenforge_token_clone(t);
  return TOKENFORGE_RESULT_OK;
}
static tokenforge_result my_retrieve(void *ud, const char *key, tokenforge_token **out, tokenforge_error **err) {
  struct db *db = ud;
  (void)key, (void)err;
  *out = tokenforge_token_clone(db->token);
  return TOKENFORGE_RESULT_OK;
}
static tokenforge_result my_delete(void *ud, const char *key, tokenforge_error **err) {
  struct db *db = ud;
  (void)key, (void)err;
  tokenforge_token_free(db->token);
  db->token = NULL;
  return TOKENFORGE_RESULT_OK;
}
static void close_db(void *ud) {
  struct db *db = ud;
  tokenforge_token_free(db->token);
  free(db);
}

/* README_TOP */

int main(void) {
  struct db *db = calloc(1, sizeof *db);
  tokenforge_storage *storage = NULL;
  tokenforge_error *err = NULL;
  /* README_BODY */
  char json[512];
  snprintf(json, sizeof json,
           "{\"steps\":[{\"name\":\"api\",\"kind\":\"client_credentials\",\"token_url\":\"%s/oauth/token\","
           "\"client_id\":\"my-client\",\"client_secret\":\"my-client-secret\"}]}",
           getenv("TOKENFORGE_URL"));
  tokenforge_pipeline *p = NULL;
  tokenforge_token *t = NULL;
  int failed = storage == NULL || tokenforge_pipeline_from_json(json, &p, &err) != TOKENFORGE_RESULT_OK ||
               tokenforge_pipeline_set_storage(p, storage, "readme", &err) != TOKENFORGE_RESULT_OK ||
               tokenforge_pipeline_get(p, "api", &t, &err) != TOKENFORGE_RESULT_OK;
  if (err) fprintf(stderr, "%s\n", tokenforge_error_message(err));
  tokenforge_token_free(t);
  tokenforge_error_free(err);
  tokenforge_pipeline_free(p);
  tokenforge_storage_free(storage);
  return failed;
}
