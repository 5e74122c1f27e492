// Package tokenforge is the Go binding of tokenforge, a library that obtains, caches,
// refreshes and stores authentication tokens: OAuth2 client credentials and refresh tokens,
// tokens that custom endpoints return in a JSON field or a response header, and multi-step
// flows where one token is needed to get the next.
//
// # Objects
//
// Each type wraps one object of the C library (include/tokenforge.h). Close releases it at
// once and is idempotent; a finalizer releases what was not closed when the Go value is
// garbage collected. Methods of a closed object fail with ErrClosed (or return zero
// values), never touch freed memory, and a Close racing with a running call waits for that
// call to end before the memory goes.
//
// Fetchers, pipelines (once configured), storages and tokens are safe for concurrent use.
//
// # Callbacks
//
// Hooks (RequestHook, ErrorHook, EventHook), custom fetchers (FetchFunc) and storage
// backends (StorageBackend) are Go values that the library calls synchronously, possibly on
// several goroutines or library threads at once. The library holds them through
// runtime/cgo handles that it releases when the last object using them is freed. A panic in
// a callback is recovered: a request hook, custom fetcher or storage operation then fails
// with CodeCallback (CodeStorage for storage) and the panic value in the message; panics in
// error and event hooks are ignored. The Context and Request a callback receives are
// borrowed for the call and must not be kept.
//
// A callback reports failure with a Go error. An *Error keeps its Code and Message; any
// other error becomes CodeCallback (CodeStorage for a storage backend) with err.Error().
// The library carries them to the caller unchanged (a request hook refuses its request with
// tokenforge_request_fail_error), and the Go error itself travels as the cause of the C
// error: Unwrap on the Error the caller gets returns it, so errors.Is and errors.As find it,
// also when the callback ran on a library thread (a dependency fetched in parallel, a
// renewal in the background) and for errors derived from it (a dependent step's
// CodeDependency).
//
// # Linking
//
// By default the package links against the library built in this repository
// (target/release). With the build tag tokenforge_pkgconfig it uses the installed library
// through pkg-config (tokenforge.pc) instead:
//
//	go build -tags tokenforge_pkgconfig ./...
package tokenforge

/*
#include "shim.h"
*/
import "C"

// Version returns the version of the linked library, "MAJOR.MINOR.PATCH".
func Version() string {
	return C.GoString(C.tokenforge_version())
}
