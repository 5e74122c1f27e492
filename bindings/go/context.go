package tokenforge

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// Context maps step names to tokens: the tokens of a fetcher's dependencies, read by its
// templates and hooks. A Context made by NewContext is safe for concurrent use; Set waits
// for the fetches using it, so a hook must not Set the Context its own fetch is using. The
// Context handed to a hook or custom fetcher is a read-only view borrowed from the library:
// valid only during that call, Set fails on it and Close does nothing. Methods of a nil
// *Context act as on an empty one.
type Context struct {
	obj      object
	mu       sync.RWMutex // Set against readers; unused by borrowed views
	borrowed bool
}

var freeContext = func(p unsafe.Pointer) { C.tokenforge_context_free((*C.tokenforge_context)(p)) }

// NewContext returns an empty Context.
func NewContext() *Context {
	c := &Context{}
	c.obj.init(unsafe.Pointer(C.tokenforge_context_new()), freeContext)
	runtime.SetFinalizer(c, (*Context).Close)
	return c
}

// borrowContext is a view of a context the library lends to a callback (nil for NULL).
// The caller invalidates it with end when the callback returns.
func borrowContext(p *C.tokenforge_context) *Context {
	if p == nil {
		return nil
	}
	c := &Context{borrowed: true}
	c.obj.init(unsafe.Pointer(p), nil)
	return c
}

// end invalidates a borrowed view.
func (c *Context) end() {
	if c != nil {
		c.obj.close()
	}
}

// rlock acquires the C context for reading, until runlock.
func (c *Context) rlock() (*C.tokenforge_context, bool) {
	if c == nil {
		return nil, false
	}
	if !c.borrowed {
		c.mu.RLock()
	}
	p, ok := c.obj.acquire()
	if !ok && !c.borrowed {
		c.mu.RUnlock()
	}
	return (*C.tokenforge_context)(p), ok
}

func (c *Context) runlock() {
	c.obj.release()
	if !c.borrowed {
		c.mu.RUnlock()
	}
}

// Set stores a copy of t as the token of step name, replacing any earlier one.
func (c *Context) Set(name string, t *Token) error {
	if c == nil {
		return ErrClosed
	}
	if c.borrowed {
		return invalidArgument("the Context handed to a callback is read-only")
	}
	if hasNUL(name) {
		return invalidArgument("step name must not contain NUL")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.obj.acquire()
	if !ok {
		return ErrClosed
	}
	defer c.obj.release()
	tp, ok := t.acquire()
	if !ok {
		return invalidArgument("Context.Set: the token is nil or closed")
	}
	defer t.obj.release()
	n := cstr(name)
	defer freeStr(n)
	var cerr *C.tokenforge_error
	rc := C.tokenforge_context_set((*C.tokenforge_context)(p), n, tp, &cerr)
	runtime.KeepAlive(c)
	runtime.KeepAlive(t)
	return takeError(rc, cerr)
}

// Get returns the token of step name (a new reference the caller may Close), or nil when
// there is none.
func (c *Context) Get(name string) *Token {
	if hasNUL(name) {
		return nil
	}
	p, ok := c.rlock()
	if !ok {
		return nil
	}
	n := cstr(name)
	t := C.tokenforge_token_clone(C.tokenforge_context_get(p, n))
	c.runlock()
	runtime.KeepAlive(c)
	freeStr(n)
	return wrapToken(t)
}

// Len returns the number of tokens in the Context.
func (c *Context) Len() int {
	p, ok := c.rlock()
	if !ok {
		return 0
	}
	n := int(C.tokenforge_context_len(p))
	c.runlock()
	runtime.KeepAlive(c)
	return n
}

// Close frees the Context and its tokens. It is idempotent, and does nothing on a borrowed
// view.
func (c *Context) Close() {
	if c == nil || c.borrowed {
		return
	}
	if c.obj.close() {
		runtime.SetFinalizer(c, nil)
	}
}
