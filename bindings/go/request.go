package tokenforge

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Request is the token request a RequestHook may read and change before it is sent. It is
// valid only during the hook call (afterwards its methods fail with ErrClosed or return
// zero values) and must be used only by the goroutine running the hook.
type Request struct {
	obj object
}

// borrowRequest is a view of the request lent to a hook; end it when the hook returns.
func borrowRequest(p *C.tokenforge_request) *Request {
	r := &Request{}
	r.obj.init(unsafe.Pointer(p), nil)
	return r
}

// edit runs one change of the request.
func (r *Request) edit(what string, f func(*C.tokenforge_request) uint32) error {
	if r == nil {
		return ErrClosed
	}
	p, ok := r.obj.acquire()
	if !ok {
		return ErrClosed
	}
	rc := f((*C.tokenforge_request)(p))
	r.obj.release()
	runtime.KeepAlive(r)
	if rc != C.TOKENFORGE_RESULT_OK {
		return &Error{Code: Code(rc), Message: "Request." + what + ": refused (" + Code(rc).String() + ")", RetryAfter: -1}
	}
	return nil
}

// twoStrings runs f with C copies of a and b, refusing NUL bytes.
func twoStrings(a, b string, f func(a, b *C.char) uint32) uint32 {
	if hasNUL(a) || hasNUL(b) {
		return C.TOKENFORGE_RESULT_INVALID_ARGUMENT
	}
	ca, cb := cstr(a), cstr(b)
	defer freeStr(ca)
	defer freeStr(cb)
	return f(ca, cb)
}

// SetHeader sets (or replaces, matching the name case-insensitively) a request header.
// CodeInvalidArgument for a name that is not an HTTP token or CR, LF or NUL in the value.
func (r *Request) SetHeader(name, value string) error {
	return r.edit("SetHeader", func(p *C.tokenforge_request) uint32 {
		return twoStrings(name, value, func(n, v *C.char) uint32 { return C.tokenforge_request_set_header(p, n, v) })
	})
}

// RemoveHeader removes a request header (any case); an absent one is fine.
func (r *Request) RemoveHeader(name string) error {
	return r.edit("RemoveHeader", func(p *C.tokenforge_request) uint32 {
		return twoStrings(name, "", func(n, _ *C.char) uint32 { return C.tokenforge_request_remove_header(p, n) })
	})
}

// SetData sets (or replaces) a request data field: in the body, or the query string with
// GET. CodeInvalidArgument for an empty key.
func (r *Request) SetData(key, value string) error {
	return r.edit("SetData", func(p *C.tokenforge_request) uint32 {
		return twoStrings(key, value, func(k, v *C.char) uint32 { return C.tokenforge_request_set_data(p, k, v) })
	})
}

// RemoveData removes a request data field; an absent one is fine.
func (r *Request) RemoveData(key string) error {
	return r.edit("RemoveData", func(p *C.tokenforge_request) uint32 {
		return twoStrings(key, "", func(k, _ *C.char) uint32 { return C.tokenforge_request_remove_data(p, k) })
	})
}

// SetQuery sets (or replaces) a query parameter. CodeInvalidArgument for an empty key.
func (r *Request) SetQuery(key, value string) error {
	return r.edit("SetQuery", func(p *C.tokenforge_request) uint32 {
		return twoStrings(key, value, func(k, v *C.char) uint32 { return C.tokenforge_request_set_query(p, k, v) })
	})
}

// SetBody sends body (copied) instead of the encoded request data, with the given
// Content-Type ("" means "application/octet-stream").
func (r *Request) SetBody(body []byte, contentType string) error {
	return r.edit("SetBody", func(p *C.tokenforge_request) uint32 {
		if hasNUL(contentType) {
			return C.TOKENFORGE_RESULT_INVALID_ARGUMENT
		}
		ct := cstrOrNil(contentType)
		defer freeStr(ct)
		var data *C.uint8_t
		if len(body) > 0 {
			data = (*C.uint8_t)(unsafe.Pointer(&body[0]))
		}
		return C.tokenforge_request_set_body(p, data, C.size_t(len(body)), ct)
	})
}

// Method returns the request's method, "GET" or "POST".
func (r *Request) Method() string {
	var s string
	_ = r.edit("Method", func(p *C.tokenforge_request) uint32 {
		s = goStr(C.tokenforge_request_method(p))
		return C.TOKENFORGE_RESULT_OK
	})
	return s
}

// URL returns the URL the request goes to, without its query parameters.
func (r *Request) URL() string {
	var s string
	_ = r.edit("URL", func(p *C.tokenforge_request) uint32 {
		s = goStr(C.tokenforge_request_url(p))
		return C.TOKENFORGE_RESULT_OK
	})
	return s
}

// Header returns the value of a request header (any case); ok is false when it is absent.
func (r *Request) Header(name string) (value string, ok bool) {
	_ = r.edit("Header", func(p *C.tokenforge_request) uint32 {
		if hasNUL(name) {
			return C.TOKENFORGE_RESULT_OK
		}
		n := cstr(name)
		defer freeStr(n)
		if v := C.tokenforge_request_header(p, n); v != nil {
			value, ok = C.GoString(v), true
		}
		return C.TOKENFORGE_RESULT_OK
	})
	return value, ok
}
