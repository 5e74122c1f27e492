package tokenforge

// The exported trampolines that the C glue in shim.c calls for every hook, custom fetcher,
// storage callback and userdata release. Each recovers a Go panic (it must never unwind
// through C) and invalidates the borrowed views it handed out before returning. A callback's
// Go error travels to the Go caller as the cause of the C error (see attachCause), so that
// errors.Is and errors.As find it whichever thread ran the callback.

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
)

//export tfGoFreeHandle
func tfGoFreeHandle(h C.uintptr_t) {
	deleteHandle(h)
}

//export tfGoRequestHook
func tfGoRequestHook(h C.uintptr_t, ctx *C.tokenforge_context, req *C.tokenforge_request) (rc C.int) {
	hook := handleValue(h).(RequestHook)
	view := borrowContext(ctx)
	r := borrowRequest(req)
	// refuse fails the request with e's code and message (tokenforge_request_fail_error).
	refuse := func(e *Error) C.int {
		var ce *C.tokenforge_error
		code := e.toC(&ce)
		C.tokenforge_request_fail_error(req, ce)
		return C.int(code)
	}
	defer func() {
		r.obj.close()
		view.end()
		if p := recover(); p != nil {
			rc = refuse(panicError("request hook", p))
		}
	}()
	if err := hook(view, r); err != nil {
		return refuse(errorFromGo(err, CodeCallback))
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
	fail := func(e *Error) C.int { return C.int(e.toC(errOut)) }
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
