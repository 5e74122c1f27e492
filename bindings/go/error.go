package tokenforge

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Code is a tokenforge result code. The numbers are those of the C enum tokenforge_result
// and are stable.
type Code int

// The result codes.
const (
	// CodeOK means success; no Error carries it.
	CodeOK Code = C.TOKENFORGE_RESULT_OK
	// CodeInvalidArgument: an empty or bad argument, a bad option value, an unknown step.
	CodeInvalidArgument Code = C.TOKENFORGE_RESULT_INVALID_ARGUMENT
	// CodeConfig: a duplicate step, a missing dependency, a cycle, a bad template, bad JSON.
	CodeConfig Code = C.TOKENFORGE_RESULT_CONFIG
	// CodeTransport: DNS, connect, TLS, I/O failures, a truncated response.
	CodeTransport Code = C.TOKENFORGE_RESULT_TRANSPORT
	// CodeTimeout: the fetch deadline passed.
	CodeTimeout Code = C.TOKENFORGE_RESULT_TIMEOUT
	// CodeHTTPStatus: a non-2xx answer without an OAuth error body (redirects included).
	CodeHTTPStatus Code = C.TOKENFORGE_RESULT_HTTP_STATUS
	// CodeOAuth: an RFC 6749 section 5.2 error response.
	CodeOAuth Code = C.TOKENFORGE_RESULT_OAUTH
	// CodeResponse: not JSON, the token field or header missing or empty, a body too large.
	CodeResponse Code = C.TOKENFORGE_RESULT_RESPONSE
	// CodeDependency: a dependency step failed or is absent from the context.
	CodeDependency Code = C.TOKENFORGE_RESULT_DEPENDENCY
	// CodeCallback: a hook, custom fetcher or other user callback reported failure or
	// panicked.
	CodeCallback Code = C.TOKENFORGE_RESULT_CALLBACK
	// CodeStorage: a storage backend failed.
	CodeStorage Code = C.TOKENFORGE_RESULT_STORAGE
	// CodeTLS: TLS refused the connection: the server's certificate is not trusted (unknown
	// issuer, another host name, expired), or the server refused the client certificate.
	CodeTLS Code = C.TOKENFORGE_RESULT_TLS
	// CodePanic: a panic inside the library was caught at its C boundary.
	CodePanic Code = C.TOKENFORGE_RESULT_PANIC
)

// String returns the code's name without prefix, such as "TIMEOUT", or "UNKNOWN" for a
// number that is no code.
func (c Code) String() string {
	if c < 0 || c > 1<<16 {
		return "UNKNOWN"
	}
	return C.GoString(C.tokenforge_result_name(C.tokenforge_result(c)))
}

// valid reports whether c is a failure code the library knows.
func (c Code) valid() bool { return c != CodeOK && c.String() != "UNKNOWN" }

// Error is a tokenforge failure. Errors returned by this package are *Error (apart from
// ErrClosed and context errors from Pipeline.Token); use errors.As to inspect the fields.
// The library never puts secrets into Message.
//
// Hooks, custom fetchers and storage backends may return an *Error themselves: its Code and
// Message then reach the caller of the fetch (see the package documentation).
type Error struct {
	// Code says what kind of failure it was.
	Code Code
	// Message describes the failure; it names the step when the library made the error.
	Message string
	// HTTPStatus is the status of the answer behind the error, 0 when there was none.
	HTTPStatus int
	// Step is the name of the fetcher or step that failed, "" when none.
	Step string
	// Field is the configuration field a CodeConfig error is about (a pipeline JSON key such
	// as "depends_on" or "request_headers.X-Device-Token"; the first problem's when loading
	// reported several), "" when none.
	Field string
	// OAuthError is the RFC 6749 "error" value (such as "invalid_client"), "" when none.
	OAuthError string
	// OAuthDescription is the RFC 6749 "error_description", "" when none.
	OAuthDescription string
	// RetryAfter is how long the server asked to wait (Retry-After); negative when it did
	// not say.
	RetryAfter time.Duration
	// Retryable tells whether trying again later may succeed (transport failures,
	// timeouts, 408, 429, 5xx, temporary OAuth errors).
	Retryable bool

	cause error
}

// NewError returns an Error with the given code and message, for hooks, custom fetchers
// and storage backends to report a failure with a code of their choice.
func NewError(code Code, message string) *Error {
	return &Error{Code: code, Message: message, RetryAfter: -1}
}

// Error returns "tokenforge CODE: message".
func (e *Error) Error() string {
	return "tokenforge " + e.Code.String() + ": " + e.Message
}

// Unwrap returns the Go error that a hook, custom fetcher or storage backend returned, when
// this Error reports it or was derived from it (a dependent step's CodeDependency error, for
// instance), whichever thread ran the callback; nil otherwise.
func (e *Error) Unwrap() error { return e.cause }

// causes maps the key of each cause the library holds (see tf_go_cause_new) to the Go error
// it stands for.
var causes sync.Map

// attachCause makes cause travel with the C error ce through the library, until the last
// error carrying it is freed (tfGoFreeCause).
func attachCause(ce *C.tokenforge_error, cause error) {
	if ce == nil || cause == nil {
		return
	}
	key := C.tf_go_cause_new()
	if key == 0 {
		return
	}
	causes.Store(uintptr(key), cause)
	liveHandles.Add(1)
	C.tf_go_error_set_cause(ce, key) // on failure the glue releases the key at once
}

//export tfGoFreeCause
func tfGoFreeCause(key C.uintptr_t) {
	if _, ok := causes.LoadAndDelete(uintptr(key)); ok {
		liveHandles.Add(-1)
	}
}

// causeOf returns the Go error that the C error e carries, nil when it carries none of ours.
func causeOf(e *C.tokenforge_error) error {
	key := C.tf_go_error_cause(e)
	if key == 0 {
		return nil
	}
	if v, ok := causes.Load(uintptr(key)); ok {
		return v.(error)
	}
	return nil
}

// copyError copies a C error (borrowed, not freed).
func copyError(e *C.tokenforge_error) *Error {
	return &Error{
		Code:             Code(C.tokenforge_error_code(e)),
		Message:          goStr(C.tokenforge_error_message(e)),
		HTTPStatus:       int(C.tokenforge_error_http_status(e)),
		Step:             goStr(C.tokenforge_error_step(e)),
		Field:            goStr(C.tokenforge_error_field(e)),
		OAuthError:       goStr(C.tokenforge_error_oauth_error(e)),
		OAuthDescription: goStr(C.tokenforge_error_oauth_description(e)),
		RetryAfter:       msDuration(int64(C.tokenforge_error_retry_after_ms(e))),
		Retryable:        bool(C.tokenforge_error_is_retryable(e)),
		cause:            causeOf(e),
	}
}

// takeError turns the outcome of a fallible call into a Go error: nil for OK, otherwise a
// copy of *e (which is freed at once), or an Error made from the code alone when the
// library gave none.
func takeError(rc uint32, e *C.tokenforge_error) error {
	if rc == C.TOKENFORGE_RESULT_OK {
		C.tokenforge_error_free(e)
		return nil
	}
	if e == nil {
		return &Error{Code: Code(rc), Message: Code(rc).String(), RetryAfter: -1}
	}
	out := copyError(e)
	C.tokenforge_error_free(e)
	return out
}

// msDuration converts library milliseconds; negative stays negative (-1 ns: "unknown").
func msDuration(ms int64) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// errorFromGo makes the code and message under which a Go error returned by a callback
// reaches the library: an *Error keeps its code (CALLBACK, or fallback, when it is OK or no
// code) and message; any other error becomes fallback with err.Error().
func errorFromGo(err error, fallback Code) *Error {
	var e *Error
	out := &Error{Code: fallback, Message: err.Error(), RetryAfter: -1, cause: err}
	if errors.As(err, &e) {
		if e.Code.valid() {
			out.Code = e.Code
		}
		if e == err {
			out.Message = e.Message
		}
	}
	out.Message = cleanMessage(out.Message)
	return out
}

// cleanMessage makes s acceptable to tokenforge_error_new: valid UTF-8 without NUL.
func cleanMessage(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// toC hands e to the library as a new tokenforge_error in *out, carrying e's Go cause, and
// returns its code.
func (e *Error) toC(out **C.tokenforge_error) uint32 {
	msg := C.CString(e.Message)
	defer freeStr(msg)
	ce := C.tokenforge_error_new(C.tokenforge_result(e.Code), msg)
	attachCause(ce, e.cause)
	if out != nil {
		*out = ce
	} else {
		C.tokenforge_error_free(ce)
	}
	return uint32(e.Code)
}

// panicError is the error a recovered panic of a callback becomes.
func panicError(what string, r any) *Error {
	return &Error{Code: CodeCallback, Message: cleanMessage(fmt.Sprintf("%s panicked: %v", what, r)), RetryAfter: -1}
}

// invalidArgument is an INVALID_ARGUMENT error made on the Go side.
func invalidArgument(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...), RetryAfter: -1}
}
