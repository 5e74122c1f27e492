package tokenforge

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// StorageBackend keeps tokens by key, for NewStorage. Its methods may run on several
// goroutines (and library threads) at once, so it must be safe for concurrent use. An error
// (or a panic, which is recovered) reaches the caller as CodeStorage with its message.
type StorageBackend interface {
	// Store keeps t under key, replacing any earlier token. t is the backend's own
	// reference: keep it, or Close it when it is no longer needed.
	Store(key string, t *Token) error
	// Retrieve returns the token under key, or nil and no error when there is none. The
	// library takes its own reference; the returned Token stays the backend's.
	Retrieve(key string) (*Token, error)
	// Delete removes the token under key; an absent key is no error.
	Delete(key string) error
}

// Storage is a place to keep tokens by key, shared by pipelines (see Pipeline.SetStorage),
// safe for concurrent use. Pipelines keep their own reference, so it may be closed once
// set. Close releases it; otherwise a finalizer does when it is garbage collected.
type Storage struct {
	obj object
}

var freeStorage = func(p unsafe.Pointer) { C.tokenforge_storage_free((*C.tokenforge_storage)(p)) }

func wrapStorage(s *C.tokenforge_storage) *Storage {
	st := &Storage{}
	st.obj.init(unsafe.Pointer(s), freeStorage)
	runtime.SetFinalizer(st, (*Storage).Close)
	return st
}

// NewMemoryStorage returns an empty in-memory storage.
func NewMemoryStorage() *Storage {
	return wrapStorage(C.tokenforge_storage_new_memory())
}

// NewFileStorage returns a store in the directory dir, shared by the processes of this
// machine (created with mode 0700 when absent; one file per key, mode 0600, written
// atomically). Pipelines on it do cross-process single-flight with a kernel lock that dies
// with its process. A directory that other users may use is refused (CodeStorage).
func NewFileStorage(dir string) (*Storage, error) {
	return newShared("NewFileStorage", dir, func(s *C.char, out **C.tokenforge_storage, e **C.tokenforge_error) uint32 {
		return C.tokenforge_storage_new_file(s, out, e)
	})
}

// NewRedisStorage returns a store in Redis, shared by a fleet: "redis://[user:password@]
// host:port[/db]", "rediss://" (TLS) or "redis+unix:///path". Keys expire with their token;
// every call has a short timeout, and while Redis is down pipelines fetch by themselves. The
// connection is made at first use; the password never appears in messages.
func NewRedisStorage(url string) (*Storage, error) {
	return newShared("NewRedisStorage", url, func(s *C.char, out **C.tokenforge_storage, e **C.tokenforge_error) uint32 {
		return C.tokenforge_storage_new_redis(s, out, e)
	})
}

// newShared runs one constructor of a shared store on a C copy of arg.
func newShared(what, arg string, make func(*C.char, **C.tokenforge_storage, **C.tokenforge_error) uint32) (*Storage, error) {
	if hasNUL(arg) {
		return nil, invalidArgument("%s: the argument must not contain NUL", what)
	}
	s := cstr(arg)
	defer freeStr(s)
	var out *C.tokenforge_storage
	var cerr *C.tokenforge_error
	if err := takeError(make(s, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	return wrapStorage(out), nil
}

// NewStorage returns a storage whose operations are those of b.
func NewStorage(b StorageBackend) (*Storage, error) {
	if b == nil {
		return nil, invalidArgument("NewStorage: backend is nil")
	}
	var out *C.tokenforge_storage
	var cerr *C.tokenforge_error
	if err := takeError(C.tf_go_storage_new_custom(newHandle(b), &out, &cerr), cerr); err != nil {
		return nil, err
	}
	return wrapStorage(out), nil
}

// acquire returns the C storage, held until release.
func (s *Storage) acquire() (*C.tokenforge_storage, bool) {
	if s == nil {
		return nil, false
	}
	p, ok := s.obj.acquire()
	return (*C.tokenforge_storage)(p), ok
}

// keyCall runs one keyed operation.
func (s *Storage) keyCall(key string, f func(*C.tokenforge_storage, *C.char, **C.tokenforge_error) uint32) error {
	if hasNUL(key) {
		return invalidArgument("storage key must not contain NUL")
	}
	p, ok := s.acquire()
	if !ok {
		return ErrClosed
	}
	k := cstr(key)
	var cerr *C.tokenforge_error
	rc := f(p, k, &cerr)
	s.obj.release()
	runtime.KeepAlive(s)
	freeStr(k)
	return takeError(rc, cerr)
}

// Store keeps a copy of t under key, replacing any earlier token.
func (s *Storage) Store(key string, t *Token) error {
	tp, ok := t.acquire()
	if !ok {
		return invalidArgument("Storage.Store: the token is nil or closed")
	}
	defer t.obj.release()
	err := s.keyCall(key, func(p *C.tokenforge_storage, k *C.char, e **C.tokenforge_error) uint32 {
		return C.tokenforge_storage_store(p, k, tp, e)
	})
	runtime.KeepAlive(t)
	return err
}

// Retrieve returns the token under key, or nil and no error when there is none.
func (s *Storage) Retrieve(key string) (*Token, error) {
	var out *C.tokenforge_token
	err := s.keyCall(key, func(p *C.tokenforge_storage, k *C.char, e **C.tokenforge_error) uint32 {
		return C.tokenforge_storage_retrieve(p, k, &out, e)
	})
	if err != nil {
		C.tokenforge_token_free(out)
		return nil, err
	}
	return wrapToken(out), nil
}

// Delete removes the token under key; an absent key is no error.
func (s *Storage) Delete(key string) error {
	return s.keyCall(key, func(p *C.tokenforge_storage, k *C.char, e **C.tokenforge_error) uint32 {
		return C.tokenforge_storage_delete(p, k, e)
	})
}

// Close releases the caller's reference; pipelines using the storage keep theirs. It is
// idempotent.
func (s *Storage) Close() {
	if s != nil && s.obj.close() {
		runtime.SetFinalizer(s, nil)
	}
}
