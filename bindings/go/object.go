package tokenforge

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"runtime/cgo"
	"sync/atomic"
	"unsafe"
)

// ErrClosed is returned by methods of an object that was closed (or, for the Context and
// Request handed to a hook, used after the hook returned).
var ErrClosed = errors.New("tokenforge: use of a closed object")

// liveHandles counts the runtime/cgo handles the library still holds; liveObjects counts
// the C objects this package owns and has not freed yet. Tests read both (export_test.go).
var (
	liveHandles atomic.Int64
	liveObjects atomic.Int64
)

// newHandle makes a handle for v that C code can carry as a userdata.
func newHandle(v any) C.uintptr_t {
	liveHandles.Add(1)
	return C.uintptr_t(cgo.NewHandle(v))
}

// handleValue returns the value behind a handle made by newHandle.
func handleValue(h C.uintptr_t) any {
	return cgo.Handle(h).Value()
}

// deleteHandle releases a handle made by newHandle.
func deleteHandle(h C.uintptr_t) {
	cgo.Handle(h).Delete()
	liveHandles.Add(-1)
}

// object is the life cycle of one C pointer owned (or borrowed) by a Go wrapper. Calls
// acquire it for their duration; close marks it closed, and the pointer is freed when it is
// closed and no call holds it any more. So a Close racing with a call in another goroutine
// (for instance the fetch that Pipeline.Token leaves running after a cancellation) never
// frees memory under the running call: it only makes later calls fail with ErrClosed.
type object struct {
	ptr   unsafe.Pointer
	state atomic.Int64 // bit 0: closed; the rest: twice the number of calls in progress
	free  func(unsafe.Pointer)
}

// init sets the pointer; free (nil for a borrowed pointer) releases it.
func (o *object) init(p unsafe.Pointer, free func(unsafe.Pointer)) {
	o.ptr = p
	o.free = free
	if free != nil {
		liveObjects.Add(1)
	}
}

// acquire returns the pointer and true, holding it until release; false once closed.
func (o *object) acquire() (unsafe.Pointer, bool) {
	for {
		s := o.state.Load()
		if s&1 != 0 {
			return nil, false
		}
		if o.state.CompareAndSwap(s, s+2) {
			return o.ptr, true
		}
	}
}

// release ends what acquire began, freeing the pointer if it was closed meanwhile.
func (o *object) release() {
	if o.state.Add(-2) == 1 {
		o.destroy()
	}
}

// close marks the object closed; it reports whether this call did (false when it was closed
// already). The pointer is freed now, or by the last call still holding it.
func (o *object) close() bool {
	for {
		s := o.state.Load()
		if s&1 != 0 {
			return false
		}
		if o.state.CompareAndSwap(s, s|1) {
			if s == 0 {
				o.destroy()
			}
			return true
		}
	}
}

func (o *object) destroy() {
	p := o.ptr
	o.ptr = nil
	if o.free != nil && p != nil {
		o.free(p)
		liveObjects.Add(-1)
	}
}

// cstr is a C copy of s, to be freed with C.free.
func cstr(s string) *C.char { return C.CString(s) }

// cstrOrNil is a C copy of s, or NULL for "".
func cstrOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// freeStr frees a string made by cstr or cstrOrNil (NULL is fine).
func freeStr(s *C.char) { C.free(unsafe.Pointer(s)) }

// goStr copies a NUL-terminated C string ("" for NULL).
func goStr(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}
