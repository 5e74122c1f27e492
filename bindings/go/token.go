package tokenforge

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// Token is an access token with its type, expiry, refresh token, scope and the other fields
// of the token response. Tokens are immutable and safe for concurrent use; Clone is cheap
// (the library counts references). Close releases the token at once (the library zeroes its
// secrets); otherwise a finalizer does so when the Token is garbage collected. The strings
// returned by the accessors are Go copies, which the garbage collector cannot zero.
//
// A Token returned by Pipeline.Token is shared: every caller gets the same one while it is
// fresh, so Close does nothing on it (the garbage collector releases it once the pipeline and
// its callers have dropped it), and its AccessToken, TokenType and Authorization are Go
// strings made once.
type Token struct {
	obj    object
	shared bool
	// Set for shared tokens: the accessors' answers, read once.
	access, tokenType, authorization string
	expiresAt                        time.Time
}

var freeToken = func(p unsafe.Pointer) { C.tokenforge_token_free((*C.tokenforge_token)(p)) }

// wrapToken takes ownership of t (NULL gives nil).
func wrapToken(t *C.tokenforge_token) *Token {
	if t == nil {
		return nil
	}
	tok := &Token{}
	tok.obj.init(unsafe.Pointer(t), freeToken)
	runtime.SetFinalizer(tok, (*Token).Close)
	return tok
}

// wrapSharedToken takes ownership of t (not NULL) for a token many callers share.
func wrapSharedToken(t *C.tokenforge_token) *Token {
	tok := &Token{
		shared:        true,
		access:        goStr(C.tokenforge_token_access_token(t)),
		tokenType:     goStr(C.tokenforge_token_token_type(t)),
		authorization: goStr(C.tokenforge_token_authorization(t)),
		expiresAt:     msToTime(int64(C.tokenforge_token_expires_at_ms(t))),
	}
	tok.obj.init(unsafe.Pointer(t), freeToken)
	runtime.SetFinalizer(tok, func(t *Token) { t.obj.close() })
	return tok
}

// NewToken makes a token. tokenType "" means "Bearer"; a zero expiresAt means the expiry is
// unknown; refreshToken may be "". It fails with CodeInvalidArgument when accessToken is
// empty or a string holds CR, LF or NUL or is not UTF-8.
func NewToken(accessToken, tokenType string, expiresAt time.Time, refreshToken string) (*Token, error) {
	if hasNUL(accessToken) || hasNUL(tokenType) || hasNUL(refreshToken) {
		return nil, invalidArgument("token strings must not contain NUL")
	}
	at := cstr(accessToken)
	defer freeStr(at)
	tt := cstrOrNil(tokenType)
	defer freeStr(tt)
	rt := cstrOrNil(refreshToken)
	defer freeStr(rt)
	t := C.tokenforge_token_new(at, tt, C.int64_t(timeToMs(expiresAt)), rt)
	if t == nil {
		return nil, invalidArgument("invalid token: the access token must be non-empty UTF-8 and no string may hold CR or LF")
	}
	return wrapToken(t), nil
}

// acquire returns the C token, held until release.
func (t *Token) acquire() (*C.tokenforge_token, bool) {
	if t == nil {
		return nil, false
	}
	p, ok := t.obj.acquire()
	return (*C.tokenforge_token)(p), ok
}

// Close releases the token. It is idempotent; a closed Token's accessors return zero values.
// It does nothing on a shared token (one returned by Pipeline.Token).
func (t *Token) Close() {
	if t != nil && !t.shared && t.obj.close() {
		runtime.SetFinalizer(t, nil)
	}
}

// Clone returns another reference to the same token, to be closed independently; nil when
// t is nil or closed.
func (t *Token) Clone() *Token {
	p, ok := t.acquire()
	if !ok {
		return nil
	}
	c := C.tokenforge_token_clone(p)
	t.obj.release()
	runtime.KeepAlive(t)
	return wrapToken(c)
}

// str runs one string accessor.
func (t *Token) str(get func(*C.tokenforge_token) *C.char) string {
	p, ok := t.acquire()
	if !ok {
		return ""
	}
	s := goStr(get(p))
	t.obj.release()
	runtime.KeepAlive(t)
	return s
}

// AccessToken returns the access token.
func (t *Token) AccessToken() string {
	if t != nil && t.shared {
		return t.access
	}
	return t.str(func(p *C.tokenforge_token) *C.char { return C.tokenforge_token_access_token(p) })
}

// TokenType returns the token type ("Bearer" when the response gave none).
func (t *Token) TokenType() string {
	if t != nil && t.shared {
		return t.tokenType
	}
	return t.str(func(p *C.tokenforge_token) *C.char { return C.tokenforge_token_token_type(p) })
}

// RefreshToken returns the refresh token, "" when there is none.
func (t *Token) RefreshToken() string {
	return t.str(func(p *C.tokenforge_token) *C.char { return C.tokenforge_token_refresh_token(p) })
}

// Scope returns the scope of the token response, "" when it had none.
func (t *Token) Scope() string {
	return t.str(func(p *C.tokenforge_token) *C.char { return C.tokenforge_token_scope(p) })
}

// Authorization returns "<type> <token>", the value for an Authorization header.
func (t *Token) Authorization() string {
	if t != nil && t.shared {
		return t.authorization
	}
	return t.str(func(p *C.tokenforge_token) *C.char { return C.tokenforge_token_authorization(p) })
}

// ExpiresAt returns the expiry, the zero time when it is unknown.
func (t *Token) ExpiresAt() time.Time {
	if t != nil && t.shared {
		return t.expiresAt
	}
	p, ok := t.acquire()
	if !ok {
		return time.Time{}
	}
	ms := int64(C.tokenforge_token_expires_at_ms(p))
	t.obj.release()
	runtime.KeepAlive(t)
	return msToTime(ms)
}

// IsExpired reports whether the token expires within margin from now (or has expired). A
// token of unknown expiry never is; a nil or closed Token always is.
func (t *Token) IsExpired(margin time.Duration) bool {
	p, ok := t.acquire()
	if !ok {
		return true
	}
	expired := bool(C.tokenforge_token_is_expired(p, C.int64_t(margin.Milliseconds())))
	t.obj.release()
	runtime.KeepAlive(t)
	return expired
}

// Extra returns another field of the token response (such as "id_token" or a custom field):
// strings as they are, other JSON values as JSON text. ok is false when it is absent.
func (t *Token) Extra(field string) (value string, ok bool) {
	if hasNUL(field) {
		return "", false
	}
	p, live := t.acquire()
	if !live {
		return "", false
	}
	f := cstr(field)
	v := C.tokenforge_token_extra(p, f)
	if v != nil {
		value, ok = C.GoString(v), true
	}
	t.obj.release()
	runtime.KeepAlive(t)
	freeStr(f)
	return value, ok
}

// String describes the token without revealing it, so that printing a Token by mistake
// leaks no secret.
func (t *Token) String() string {
	if _, ok := t.acquire(); !ok {
		return "Token(closed)"
	}
	t.obj.release()
	s := "Token(" + t.TokenType() + ", "
	if exp := t.ExpiresAt(); exp.IsZero() {
		s += "expiry unknown"
	} else {
		s += "expires " + exp.UTC().Format(time.RFC3339)
	}
	return s + ")"
}

// OAuth2Refresh runs the OAuth2 refresh_token grant at tokenURL and returns the new token
// (keeping refreshToken when the answer carries no new one). With clientSecret the client
// authenticates by HTTP Basic; with "" it is a public client and clientID goes in the body.
// timeout is the total deadline (0: 30 s). Connect failures, 408, 429 and 5xx are retried.
func OAuth2Refresh(tokenURL, refreshToken, clientID, clientSecret string, timeout time.Duration) (*Token, error) {
	if timeout < 0 {
		return nil, invalidArgument("timeout must not be negative")
	}
	u, rt, id, sec := cstr(tokenURL), cstr(refreshToken), cstr(clientID), cstrOrNil(clientSecret)
	defer func() { freeStr(u); freeStr(rt); freeStr(id); freeStr(sec) }()
	var out *C.tokenforge_token
	var cerr *C.tokenforge_error
	rc := C.tokenforge_oauth2_refresh(u, rt, id, sec, C.uint64_t(ceilMs(timeout)), &out, &cerr)
	if err := takeError(rc, cerr); err != nil {
		return nil, err
	}
	return wrapToken(out), nil
}

// timeToMs converts an expiry; the zero time is TOKENFORGE_NO_EXPIRY.
func timeToMs(t time.Time) int64 {
	if t.IsZero() {
		return C.TOKENFORGE_NO_EXPIRY
	}
	return t.UnixMilli()
}

// msToTime converts an expiry; negative (unknown) is the zero time.
func msToTime(ms int64) time.Time {
	if ms < 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// ceilMs is d in whole milliseconds, rounded up so that a positive duration stays positive.
func ceilMs(d time.Duration) int64 {
	if d <= 0 {
		return int64(d / time.Millisecond)
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// hasNUL reports whether s holds a NUL byte, which a C string cannot carry.
func hasNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}
