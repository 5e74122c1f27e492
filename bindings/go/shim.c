/* C glue between the Go package and libtokenforge: const-correct trampolines that forward
   each callback to its exported Go function with the userdata as an integer (a
   runtime/cgo.Handle), and a per-thread slot that carries a hook's Go error back to the Go
   caller of the fetch that ran the hook. */
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
  tokenforge_storage_callbacks cb = {sizeof cb, glue_store, glue_retrieve, glue_delete};
  return tokenforge_storage_new_custom(&cb, (void *)handle, glue_free, out, err);
}

/* The cause slot of the innermost tf_go_* call running on this thread. Hooks run
   synchronously on the thread that called fetch or get, so a hook that fails there finds
   the slot of the call that ran it; on a library thread (a parallel dependency fetch) there
   is no call and nothing is recorded. */
static __thread uintptr_t cause_slot;
static __thread int call_depth;

int tf_go_stash_cause(uintptr_t handle) {
  if (call_depth == 0 || cause_slot != 0) return 0;
  cause_slot = handle;
  return 1;
}

enum tokenforge_result tf_go_fetcher_fetch(const tokenforge_fetcher *f, const tokenforge_context *ctx,
                                      tokenforge_token **out, tokenforge_error **err,
                                      uintptr_t *cause) {
  uintptr_t saved = cause_slot;
  cause_slot = 0;
  call_depth++;
  tokenforge_result r = tokenforge_fetcher_fetch(f, ctx, out, err);
  call_depth--;
  *cause = cause_slot;
  cause_slot = saved;
  return r;
}

enum tokenforge_result tf_go_pipeline_get(const tokenforge_pipeline *p, const char *step,
                                     tokenforge_token **out, tokenforge_error **err,
                                     uintptr_t *cause) {
  uintptr_t saved = cause_slot;
  cause_slot = 0;
  call_depth++;
  tokenforge_result r = tokenforge_pipeline_get(p, step, out, err);
  call_depth--;
  *cause = cause_slot;
  cause_slot = saved;
  return r;
}
