/* C glue between the Go package and libtokenforge: const-correct trampolines that forward
   each callback to its exported Go function with the userdata as an integer (a
   runtime/cgo.Handle), and the causes that carry a callback's Go error through the library
   (tokenforge_error_set_cause), on whichever thread the callback ran. */
#include "shim.h"

#include "_cgo_export.h"

static void glue_free(void *userdata) { tfGoFreeHandle((uintptr_t)userdata); }

static tokenforge_result glue_request_hook(void *userdata, const tokenforge_context *ctx,
                                           tokenforge_request *req) {
  return (tokenforge_result)tfGoRequestHook((uintptr_t)userdata, (tokenforge_context *)ctx, req);
}

static void glue_error_hook(void *userdata, const tokenforge_error *error,
                            const tokenforge_context *ctx) {
  tfGoErrorHook((uintptr_t)userdata, (tokenforge_error *)error, (tokenforge_context *)ctx);
}

static void glue_event_hook(void *userdata, const tokenforge_event *event) {
  tfGoEventHook((uintptr_t)userdata, (tokenforge_event *)event);
}

static tokenforge_result glue_fetch(void *userdata, const tokenforge_context *ctx,
                                    tokenforge_token **out, tokenforge_error **err) {
  return (tokenforge_result)tfGoFetch((uintptr_t)userdata, (tokenforge_context *)ctx, out, err);
}

static tokenforge_result glue_store(void *userdata, const char *key, const tokenforge_token *t,
                                    tokenforge_error **err) {
  return (tokenforge_result)tfGoStorageStore((uintptr_t)userdata, (char *)key,
                                             (tokenforge_token *)t, err);
}

static tokenforge_result glue_retrieve(void *userdata, const char *key, tokenforge_token **out,
                                       tokenforge_error **err) {
  return (tokenforge_result)tfGoStorageRetrieve((uintptr_t)userdata, (char *)key, out, err);
}

static tokenforge_result glue_delete(void *userdata, const char *key, tokenforge_error **err) {
  return (tokenforge_result)tfGoStorageDelete((uintptr_t)userdata, (char *)key, err);
}

static void glue_log(void *userdata, tokenforge_log_level level, const char *line) {
  tfGoLog((uintptr_t)userdata, (int)level, (char *)line);
}

enum tokenforge_result tf_go_set_log_callback(int level, uintptr_t handle) {
  return tokenforge_set_log_callback((tokenforge_log_level)level, handle ? glue_log : NULL, (void *)handle,
                                     handle ? glue_free : NULL);
}

enum tokenforge_result tf_go_builder_set_request_hook(tokenforge_fetcher_builder *b, uintptr_t handle) {
  return tokenforge_fetcher_builder_set_request_hook(b, glue_request_hook, (void *)handle, glue_free);
}

enum tokenforge_result tf_go_builder_set_error_hook(tokenforge_fetcher_builder *b, uintptr_t handle) {
  return tokenforge_fetcher_builder_set_error_hook(b, glue_error_hook, (void *)handle, glue_free);
}

enum tokenforge_result tf_go_pipeline_set_event_hook(tokenforge_pipeline *p, uintptr_t handle,
                                                tokenforge_error **err) {
  return tokenforge_pipeline_set_event_hook(p, glue_event_hook, (void *)handle, glue_free, err);
}

enum tokenforge_result tf_go_fetcher_new_custom(const char *name, const char *const *depends_on,
                                           size_t n_depends_on, int64_t ttl_ms, uintptr_t handle,
                                           tokenforge_fetcher **out, tokenforge_error **err) {
  return tokenforge_fetcher_new_custom(name, depends_on, n_depends_on, ttl_ms, glue_fetch,
                                       (void *)handle, glue_free, out, err);
}

enum tokenforge_result tf_go_storage_new_custom(uintptr_t handle, tokenforge_storage **out,
                                           tokenforge_error **err) {
  tokenforge_storage_callbacks cb = {sizeof cb, glue_store, glue_retrieve, glue_delete, NULL, NULL};
  return tokenforge_storage_new_custom(&cb, (void *)handle, glue_free, out, err);
}

/* A cause is a one-byte block whose address keys the Go error in the package's registry:
   an address no other cause in the process can have while it lives. */
static void glue_free_cause(void *cause) {
  tfGoFreeCause((uintptr_t)cause);
  free(cause);
}

uintptr_t tf_go_cause_new(void) { return (uintptr_t)malloc(1); }

enum tokenforge_result tf_go_error_set_cause(tokenforge_error *e, uintptr_t cause) {
  return tokenforge_error_set_cause(e, (void *)cause, glue_free_cause);
}

uintptr_t tf_go_error_cause(const tokenforge_error *e) { return (uintptr_t)tokenforge_error_cause(e); }
