package tokenforge

// The exported trampolines that the C glue in shim.c calls for every hook, custom fetcher,
// storage callback and userdata release. Each recovers a Go panic (it must never unwind
// through C) and invalidates the borrowed views it handed out before returning.

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
)

// causeRecord is what a failing hook leaves for the Go caller of the fetch that ran it.
type causeRecord struct {
	err     *Error // the code and message the hook reported
	request bool   // from a request hook (whose code and message the library replaces)
}

// stashCause offers a hook's failure to the tf_go_* call running on this thread, if any.
func stashCause(e *Error, request bool) {
	h := newHandle(&causeRecord{err: e, request: request})
	if C.tf_go_stash_cause(h) == 0 {
		deleteHandle(h)
	}
}

// withCause completes err with the failure a hook of the same call reported on this thread
// (cause is its handle, 0 for none): a request hook's code and message replace the
// library's "request hook returned ..." (the C API has no way to carry them), and when err
// stems from the hook's failure, Unwrap gives the hook's Go error.
func withCause(err error, cause C.uintptr_t) error {
	if cause == 0 {
		return err
	}
	rec := handleValue(cause).(*causeRecord)
	deleteHandle(cause)
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	switch {
	case rec.request && e.Code == CodeCallback && strings.Contains(e.Message, "request hook returned"):
		// The step's own request hook: its code and message, as for custom fetchers.
		e.Code, e.Message, e.cause = rec.err.Code, rec.err.Message, rec.err.cause
	case rec.request && strings.Contains(e.Message, "request hook returned"),
		!rec.request && strings.Contains(e.Message, rec.err.Message):
		// An error derived from the hook's failure (a dependency's, say): keep the
		// library's code and message, but let errors.Is and errors.As find the hook's error.
		e.cause = rec.err.cause
	}
	return err
}

//export tfGoFreeHandle
func tfGoFreeHandle(h C.uintptr_t) {
	deleteHandle(h)
}

//export tfGoRequestHook
func tfGoRequestHook(h C.uintptr_t, ctx *C.tokenforge_context, req *C.tokenforge_request) (rc C.int) {
	hook := handleValue(h).(RequestHook)
	view := borrowContext(ctx)
	r := borrowRequest(req)
	defer func() {
		r.obj.close()
		view.end()
		if p := recover(); p != nil {
			e := panicError("request hook", p)
			stashCause(e, true)
			rc = C.int(e.Code)
		}
	}()
	if err := hook(view, r); err != nil {
		e := errorFromGo(err, CodeCallback)
		stashCause(e, true)
		return C.int(e.Code)
	}
	return C.TOKENFORGE_RESULT_OK
}

//export tfGoErrorHook
func tfGoErrorHook(h C.uintptr_t, cerr *C.tokenforge_error, ctx *C.tokenforge_context) {
	hook := handleValue(h).(ErrorHook)
	view := borrowContext(ctx)
	defer func() {
		view.end()
		_ = recover() // the fetch has failed already; nothing to report a panic to
	}()
	hook(copyError(cerr), view)
}

//export tfGoFetch
func tfGoFetch(h C.uintptr_t, ctx *C.tokenforge_context, out **C.tokenforge_token, errOut **C.tokenforge_error) (rc C.int) {
	fetch := handleValue(h).(FetchFunc)
	view := borrowContext(ctx)
	fail := func(e *Error) C.int {
		stashCause(e, false)
		return C.int(e.toC(errOut))
	}
	defer func() {
		view.end()
		if p := recover(); p != nil {
			rc = fail(panicError("custom fetcher", p))
		}
	}()
	t, err := fetch(view)
	if err != nil {
		return fail(errorFromGo(err, CodeCallback))
	}
	tp, ok := t.acquire()
	if !ok {
		return fail(&Error{Code: CodeCallback, Message: "custom fetcher returned no token (nil or closed) and no error", RetryAfter: -1})
	}
	*out = C.tokenforge_token_clone(tp)
	t.obj.release()
	runtime.KeepAlive(t)
	return C.TOKENFORGE_RESULT_OK
}

//export tfGoEventHook
func tfGoEventHook(h C.uintptr_t, ev *C.tokenforge_event) {
	hook := handleValue(h).(EventHook)
	defer func() { _ = recover() }() // events are for observation; a panic there is dropped
	hook(copyEvent(ev))
}

// storageCall runs one storage callback, turning an error or a panic into a C error.
func storageCall(what string, errOut **C.tokenforge_error, f func() error) (rc C.int) {
	defer func() {
		if p := recover(); p != nil {
			e := panicError("storage "+what, p)
			e.Code = CodeStorage
			rc = C.int(e.toC(errOut))
		}
	}()
	if err := f(); err != nil {
		return C.int(errorFromGo(err, CodeStorage).toC(errOut))
	}
	return C.TOKENFORGE_RESULT_OK
}

//export tfGoStorageStore
func tfGoStorageStore(h C.uintptr_t, key *C.char, t *C.tokenforge_token, errOut **C.tokenforge_error) C.int {
	b := handleValue(h).(StorageBackend)
	return storageCall("Store", errOut, func() error {
		return b.Store(C.GoString(key), wrapToken(C.tokenforge_token_clone(t)))
	})
}

//export tfGoStorageRetrieve
func tfGoStorageRetrieve(h C.uintptr_t, key *C.char, out **C.tokenforge_token, errOut **C.tokenforge_error) C.int {
	b := handleValue(h).(StorageBackend)
	return storageCall("Retrieve", errOut, func() error {
		t, err := b.Retrieve(C.GoString(key))
		if err != nil {
			return err
		}
		if t == nil {
			return nil
		}
		tp, ok := t.acquire()
		if !ok {
			return fmt.Errorf("storage Retrieve returned a closed token for %q", C.GoString(key))
		}
		*out = C.tokenforge_token_clone(tp)
		t.obj.release()
		runtime.KeepAlive(t)
		return nil
	})
}

//export tfGoStorageDelete
func tfGoStorageDelete(h C.uintptr_t, key *C.char, errOut **C.tokenforge_error) C.int {
	b := handleValue(h).(StorageBackend)
	return storageCall("Delete", errOut, func() error { return b.Delete(C.GoString(key)) })
}
