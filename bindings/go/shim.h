/* C glue between the Go package and libtokenforge (declarations only; see shim.c). */
#ifndef TOKENFORGE_GO_SHIM_H
#define TOKENFORGE_GO_SHIM_H

#include <stdint.h>
#include <stdlib.h>

#include "tokenforge.h"

/* Hook setters: `handle` is a runtime/cgo.Handle that the library owns from then on and
   releases through tfGoFreeHandle exactly once. */
enum tokenforge_result tf_go_builder_set_request_hook(tokenforge_fetcher_builder *b, uintptr_t handle);
enum tokenforge_result tf_go_builder_set_error_hook(tokenforge_fetcher_builder *b, uintptr_t handle);
enum tokenforge_result tf_go_pipeline_set_event_hook(tokenforge_pipeline *p, uintptr_t handle,
                                                tokenforge_error **err);
enum tokenforge_result tf_go_fetcher_new_custom(const char *name, const char *const *depends_on,
                                           size_t n_depends_on, int64_t ttl_ms, uintptr_t handle,
                                           tokenforge_fetcher **out, tokenforge_error **err);
enum tokenforge_result tf_go_storage_new_custom(uintptr_t handle, tokenforge_storage **out,
                                           tokenforge_error **err);

/* Calls that may run Go hooks on this thread. `*cause` receives the cgo.Handle of the first
   Go error a hook of this call reported on this thread (0 when none), so that the Go side
   can restore what the C API cannot carry (a request hook returns a bare code). */
enum tokenforge_result tf_go_fetcher_fetch(const tokenforge_fetcher *f, const tokenforge_context *ctx,
                                      tokenforge_token **out, tokenforge_error **err,
                                      uintptr_t *cause);
enum tokenforge_result tf_go_pipeline_get(const tokenforge_pipeline *p, const char *step,
                                     tokenforge_token **out, tokenforge_error **err,
                                     uintptr_t *cause);

/* Records `handle` as the cause of the running call on this thread. Returns 1 when it was
   recorded (the caller of tf_go_fetcher_fetch or tf_go_pipeline_get then owns it), 0 when
   there is no such call on this thread or a cause is recorded already. */
int tf_go_stash_cause(uintptr_t handle);

#endif
