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
/* The process-wide log callback (handle 0: none, back to TOKENFORGE_LOG). */
enum tokenforge_result tf_go_set_log_callback(int level, uintptr_t handle);
enum tokenforge_result tf_go_fetcher_new_custom(const char *name, const char *const *depends_on,
                                           size_t n_depends_on, int64_t ttl_ms, uintptr_t handle,
                                           tokenforge_fetcher **out, tokenforge_error **err);
enum tokenforge_result tf_go_storage_new_custom(uintptr_t handle, tokenforge_storage **out,
                                           tokenforge_error **err);

/* Causes (tokenforge_error_set_cause): tf_go_cause_new makes a key (0 when out of memory)
   that the Go side maps to its error before attaching it with tf_go_error_set_cause, which
   calls tfGoFreeCause(key) and frees the key once the last error carrying it is freed (at
   once if it fails). tf_go_error_cause reads an error's cause (0 when none). */
uintptr_t tf_go_cause_new(void);
enum tokenforge_result tf_go_error_set_cause(tokenforge_error *e, uintptr_t cause);
uintptr_t tf_go_error_cause(const tokenforge_error *e);

#endif
