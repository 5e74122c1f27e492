package tokenforge

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sort"
	"time"
	"unsafe"
)

// RequestHook shapes a token request after the options and templates are applied, before
// it is sent. ctx holds the dependencies' tokens (nil when the fetch had no context); ctx and
// req are valid only during the call. Returning an error aborts the fetch and nothing is
// sent: an *Error keeps its Code and Message, any other error becomes CodeCallback with
// err.Error() (see the package documentation for when the code and message reach the
// caller). A panic is recovered and fails the fetch with CodeCallback. The hook may run on
// several goroutines at once, and may call any function of this package except asking the
// pipeline that runs it for its own step.
type RequestHook func(ctx *Context, req *Request) error

// ErrorHook is told of every failed fetch (once per fetch, not per retry) with the error and
// the context (nil when none), valid only during the call. A panic in it is recovered and
// ignored.
type ErrorHook func(err *Error, ctx *Context)

// FetchFunc is the fetch of a custom fetcher. ctx holds the dependencies' tokens (nil when
// the fetch had no context) and is valid only during the call. It returns a token (the
// library keeps its own reference; the returned Token stays the caller's) or an error: an
// *Error keeps its Code and Message, any other error becomes CodeCallback with err.Error(),
// and so does returning neither. A panic is recovered and becomes a CodeCallback error. It
// may run on several goroutines at once.
type FetchFunc func(ctx *Context) (*Token, error)

// ContentType says how request data is encoded in a POST body.
type ContentType int

const (
	// ContentTypeForm is application/x-www-form-urlencoded (the default).
	ContentTypeForm ContentType = C.TOKENFORGE_CONTENT_TYPE_FORM
	// ContentTypeJSON is application/json, an object of string values.
	ContentTypeJSON ContentType = C.TOKENFORGE_CONTENT_TYPE_JSON
)

// BasicAuth authenticates a token request by HTTP Basic.
type BasicAuth struct {
	// User must not contain ':'.
	User string
	// Password is a secret; it never appears in messages.
	Password string
}

// Retry configures retries on connect failures, 408, 429 and 5xx.
type Retry struct {
	// MaxAttempts is the number of attempts in all, 1 to 10 (1: no retry; default 3).
	MaxAttempts int
	// BaseDelay is the first wait (at most 60 s; default 200 ms), doubled each time, with
	// jitter, or what Retry-After asks, never past the fetch deadline.
	BaseDelay time.Duration
}

// RefreshEndpoint makes a pipeline renew a cached token that carries a refresh token by the
// OAuth2 refresh_token grant, before falling back to a full fetch on "invalid_grant". The
// refresh request goes the way of the step's own: the same TLS settings, deadline, retries,
// hooks and client authentication.
type RefreshEndpoint struct {
	// TokenURL is the token endpoint; "" means the step's own.
	TokenURL string
	// ClientID identifies the client; "" means the step's own client (the client_credentials
	// client, or the BasicAuth user), and then ClientSecret must be "" too.
	ClientID string
	// ClientSecret authenticates the client as the step's ClientAuth says; "" with a ClientID
	// makes it a public client whose ClientID goes in the body.
	ClientSecret string
}

// Identity is how a step reaches its identity provider and proves who it is, beyond a
// secret: a private CA, a client certificate (mutual TLS, RFC 8705), a key for signed JWT
// assertions, and discovery of the token endpoint. Zero fields are not used.
type Identity struct {
	// CAFile is a PEM file of CA certificates trusted instead of the system store (as
	// curl's --cacert).
	CAFile string
	// ClientCert and ClientKey are PEM files of the certificate chain and key presented for
	// mutual TLS; with ClientAuth "tls_client_auth" they are the client's only credential.
	ClientCert, ClientKey string
	// JWTKey signs private_key_jwt client assertions (ClientAuth "private_key_jwt") and the
	// jwt_bearer grant's assertion.
	JWTKey *JWTKey
	// Issuer, when set, makes the token endpoint the one in the issuer's metadata (RFC 8414,
	// OpenID Connect Discovery), fetched once per issuer; it replaces the configured URL.
	Issuer string
}

// JWTKey is a private key in a PEM file that signs JWTs: RSA for "RS256" and "PS256",
// P-256 (PKCS#8) for "ES256", with an optional key id for the header. Cert, when set, is
// the key's X.509 certificate (PEM file): the assertions then carry its thumbprints
// (x5t, x5t#S256), as Microsoft Entra ID certificate credentials need.
type JWTKey struct {
	File, Alg, KID string
	Cert           string
}

// BodyOptions configure a fetcher that reads the token from the JSON body answered by
// BaseURL + Endpoint. Zero fields keep the library's defaults. Map entries are added in
// sorted key order; values of Headers, Data and Query may hold {{step.field}} templates
// naming steps listed in DependsOn.
type BodyOptions struct {
	// Name is the step name (required).
	Name string
	// ClientID and ClientSecret, when ClientID is set, are the client that authenticates
	// the request as ClientAuth says (ClientSecret "" for key or certificate clients).
	ClientID, ClientSecret string
	// BaseURL and Endpoint make the token endpoint URL.
	BaseURL, Endpoint string
	// Method is "GET" or "POST" (default); with GET the data goes into the query string.
	Method string
	// Headers are request headers.
	Headers map[string]string
	// Data are request data fields (the body, or the query string with GET).
	Data map[string]string
	// Query are query parameters.
	Query map[string]string
	// ContentType is how Data is encoded in a POST body.
	ContentType ContentType
	// TokenField, TokenTypeField, ExpiresInField and RefreshTokenField are the fields of the
	// JSON answer (dotted paths reach nested objects) holding the access token (default
	// "access_token"), its type ("token_type"), its lifetime in seconds ("expires_in") and
	// the refresh token ("refresh_token").
	TokenField, TokenTypeField, ExpiresInField, RefreshTokenField string
	// DefaultTokenType is used when the answer gives no type (default "Bearer").
	DefaultTokenType string
	// BasicAuth, when not nil, authenticates the request by HTTP Basic.
	BasicAuth *BasicAuth
	// TTL, when positive, is the lifetime given to every token, overriding the answer.
	TTL time.Duration
	// Timeout, when positive, is the total deadline of one fetch (default 30 s).
	Timeout time.Duration
	// InsecureSkipVerify turns TLS certificate verification off (test servers only), for
	// every request of the step, its refresh grant included.
	InsecureSkipVerify bool
	// ClientAuth is how the client authenticates, to its own grant and to the refresh
	// endpoint: "client_secret_basic" ("" means this), "client_secret_post",
	// "client_secret_jwt", "private_key_jwt" (with Identity.JWTKey), "tls_client_auth"
	// (with Identity.ClientCert) or "none".
	ClientAuth string
	// Identity: private CA, client certificate, JWT key, discovery.
	Identity
	// RenewsDependents makes a pipeline renew this step's dependents at once whenever it
	// renews this step (for servers that bind derived tokens to their parent); by default
	// they keep their tokens and renew when they go stale themselves.
	RenewsDependents bool
	// Retry, when not nil, configures retries.
	Retry *Retry
	// DependsOn names the steps whose tokens this one needs.
	DependsOn []string
	// RefreshEndpoint, when not nil, enables the refresh grant in pipelines.
	RefreshEndpoint *RefreshEndpoint
	// RequestHook, when not nil, shapes each request.
	RequestHook RequestHook
	// ErrorHook, when not nil, is told of each failed fetch.
	ErrorHook ErrorHook
}

// HeaderOptions configure a fetcher that reads the token from a header of the answer of
// BaseURL + Endpoint. Fields as for BodyOptions.
type HeaderOptions struct {
	// Name is the step name (required).
	Name string
	// ClientID and ClientSecret: as in BodyOptions.
	ClientID, ClientSecret string
	// BaseURL and Endpoint make the endpoint URL.
	BaseURL, Endpoint string
	// Method is "GET" or "POST" (default).
	Method string
	// Headers are request headers.
	Headers map[string]string
	// Data are request data fields.
	Data map[string]string
	// Query are query parameters.
	Query map[string]string
	// ContentType is how Data is encoded in a POST body.
	ContentType ContentType
	// TokenHeader is the response header holding the token (default "Authorization").
	TokenHeader string
	// TokenType is the token's type (default "Bearer"); a header value starting with it
	// and a space is stored without that prefix.
	TokenType string
	// BasicAuth, when not nil, authenticates the request by HTTP Basic.
	BasicAuth *BasicAuth
	// TTL, when positive, is the lifetime given to every token.
	TTL time.Duration
	// Timeout, when positive, is the total deadline of one fetch (default 30 s).
	Timeout time.Duration
	// InsecureSkipVerify turns TLS certificate verification off (test servers only), for
	// every request of the step, its refresh grant included.
	InsecureSkipVerify bool
	// ClientAuth is how the client authenticates, to its own grant and to the refresh
	// endpoint: "client_secret_basic" ("" means this), "client_secret_post",
	// "client_secret_jwt", "private_key_jwt" (with Identity.JWTKey), "tls_client_auth"
	// (with Identity.ClientCert) or "none".
	ClientAuth string
	// Identity: private CA, client certificate, JWT key, discovery.
	Identity
	// RenewsDependents makes a pipeline renew this step's dependents at once whenever it
	// renews this step (for servers that bind derived tokens to their parent); by default
	// they keep their tokens and renew when they go stale themselves.
	RenewsDependents bool
	// Retry, when not nil, configures retries.
	Retry *Retry
	// DependsOn names the steps whose tokens this one needs.
	DependsOn []string
	// RefreshEndpoint, when not nil, enables the refresh grant in pipelines.
	RefreshEndpoint *RefreshEndpoint
	// RequestHook, when not nil, shapes each request.
	RequestHook RequestHook
	// ErrorHook, when not nil, is told of each failed fetch.
	ErrorHook ErrorHook
}

// ClientCredentialsOptions configure the OAuth2 client_credentials grant: a form POST of
// grant_type=client_credentials (and scope) to TokenURL, the client authenticated by HTTP
// Basic unless ClientAuthInBody. Other fields as for BodyOptions.
type ClientCredentialsOptions struct {
	// Name is the step name (required).
	Name string
	// TokenURL is the token endpoint.
	TokenURL string
	// ClientID and ClientSecret identify the client; the secret never appears in messages.
	ClientID, ClientSecret string
	// Scope, when not "", is sent as the scope parameter.
	Scope string
	// ClientAuthInBody sends client_id and client_secret as body parameters instead of
	// HTTP Basic.
	ClientAuthInBody bool
	// Headers are extra request headers.
	Headers map[string]string
	// Data are extra form fields.
	Data map[string]string
	// Query are query parameters.
	Query map[string]string
	// TokenField, TokenTypeField, ExpiresInField and RefreshTokenField: as in BodyOptions.
	TokenField, TokenTypeField, ExpiresInField, RefreshTokenField string
	// DefaultTokenType is used when the answer gives no type (default "Bearer").
	DefaultTokenType string
	// TTL, when positive, is the lifetime given to every token.
	TTL time.Duration
	// Timeout, when positive, is the total deadline of one fetch (default 30 s).
	Timeout time.Duration
	// InsecureSkipVerify turns TLS certificate verification off (test servers only), for
	// every request of the step, its refresh grant included.
	InsecureSkipVerify bool
	// ClientAuth is how the client authenticates, to its own grant and to the refresh
	// endpoint: "client_secret_basic" ("" means this), "client_secret_post",
	// "client_secret_jwt", "private_key_jwt" (with Identity.JWTKey), "tls_client_auth"
	// (with Identity.ClientCert) or "none".
	ClientAuth string
	// Identity: private CA, client certificate, JWT key, discovery.
	Identity
	// RenewsDependents makes a pipeline renew this step's dependents at once whenever it
	// renews this step (for servers that bind derived tokens to their parent); by default
	// they keep their tokens and renew when they go stale themselves.
	RenewsDependents bool
	// Retry, when not nil, configures retries.
	Retry *Retry
	// DependsOn names the steps whose tokens this one needs.
	DependsOn []string
	// RefreshEndpoint, when not nil, enables the refresh grant in pipelines.
	RefreshEndpoint *RefreshEndpoint
	// RequestHook, when not nil, shapes each request.
	RequestHook RequestHook
	// ErrorHook, when not nil, is told of each failed fetch.
	ErrorHook ErrorHook
}

// CustomOptions configure a fetcher whose fetch is a Go function.
type CustomOptions struct {
	// Name is the step name (required).
	Name string
	// Fetch obtains the token (required).
	Fetch FetchFunc
	// DependsOn names the steps whose tokens Fetch needs (in its ctx).
	DependsOn []string
	// TTL, when positive, overrides the expiry of the returned tokens.
	TTL time.Duration
}

// Fetcher is one step that obtains one token. It is immutable and safe for concurrent use.
// A Pipeline keeps its own reference to the fetchers added to it, so a Fetcher may be
// closed once added; its hooks live as long as any owner. Close releases it at once;
// otherwise a finalizer does when it is garbage collected. A hook that refers to the
// Fetcher or its Pipeline keeps them alive until they are closed explicitly.
type Fetcher struct {
	obj object
}

var freeFetcher = func(p unsafe.Pointer) { C.tokenforge_fetcher_free((*C.tokenforge_fetcher)(p)) }

func wrapFetcher(f *C.tokenforge_fetcher) *Fetcher {
	fe := &Fetcher{}
	fe.obj.init(unsafe.Pointer(f), freeFetcher)
	runtime.SetFinalizer(fe, (*Fetcher).Close)
	return fe
}

// builder applies options to a C builder, keeping the first failure.
type builder struct {
	b    *C.tokenforge_fetcher_builder
	name string
	err  error
	strs []*C.char
}

// s returns a C copy of v freed by finish; NUL bytes are refused.
func (b *builder) s(v string) *C.char {
	if hasNUL(v) && b.err == nil {
		b.err = b.fail(C.TOKENFORGE_RESULT_INVALID_ARGUMENT, "a string holding NUL")
	}
	c := C.CString(v)
	b.strs = append(b.strs, c)
	return c
}

func (b *builder) fail(rc uint32, what string) error {
	return &Error{Code: Code(rc), Message: fmt.Sprintf("step %q: invalid %s", b.name, what), Step: b.name, RetryAfter: -1}
}

// check records a failed setter.
func (b *builder) check(rc uint32, what string) {
	if rc != C.TOKENFORGE_RESULT_OK && b.err == nil {
		b.err = b.fail(rc, what)
	}
}

// pairs calls set for each entry of m in sorted key order.
func (b *builder) pairs(m map[string]string, what string, set func(*C.tokenforge_fetcher_builder, *C.char, *C.char) uint32) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.check(set(b.b, b.s(k), b.s(m[k])), fmt.Sprintf("%s %q", what, k))
	}
}

// common holds the options all HTTP fetchers share.
type common struct {
	method                 string
	headers, data, query   map[string]string
	contentType            ContentType
	tokenField, typeField  string
	expiresField, rtField  string
	defaultType            string
	tokenHeader, tokenType string
	basic                  *BasicAuth
	ttl, timeout           time.Duration
	insecure               bool
	identity               Identity
	clientID, clientSecret string
	clientAuth             string
	renewsDependents       bool
	retry                  *Retry
	dependsOn              []string
	refresh                *RefreshEndpoint
	requestHook            RequestHook
	errorHook              ErrorHook
}

// build applies o to the builder b (which it always consumes) and builds the fetcher.
func build(cb *C.tokenforge_fetcher_builder, name string, o *common) (*Fetcher, error) {
	if cb == nil {
		return nil, &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("step %q: invalid name, URL, client or scope (NUL or bad UTF-8)", name), Step: name, RetryAfter: -1}
	}
	b := &builder{b: cb, name: name}
	defer func() {
		for _, s := range b.strs {
			freeStr(s)
		}
	}()
	if o.method != "" {
		b.check(C.tokenforge_fetcher_builder_set_method(cb, b.s(o.method)), "method "+o.method)
	}
	b.pairs(o.headers, "header", func(x *C.tokenforge_fetcher_builder, k, v *C.char) uint32 {
		return C.tokenforge_fetcher_builder_add_request_header(x, k, v)
	})
	b.pairs(o.data, "data field", func(x *C.tokenforge_fetcher_builder, k, v *C.char) uint32 {
		return C.tokenforge_fetcher_builder_add_request_data(x, k, v)
	})
	b.pairs(o.query, "query parameter", func(x *C.tokenforge_fetcher_builder, k, v *C.char) uint32 {
		return C.tokenforge_fetcher_builder_add_query_param(x, k, v)
	})
	if o.contentType != ContentTypeForm {
		b.check(C.tokenforge_fetcher_builder_set_content_type(cb, C.tokenforge_content_type(o.contentType)), "content type")
	}
	for _, f := range []struct {
		v    string
		what string
		set  func(*C.tokenforge_fetcher_builder, *C.char) uint32
	}{
		{o.tokenField, "token field", func(x *C.tokenforge_fetcher_builder, s *C.char) uint32 {
			return C.tokenforge_fetcher_builder_set_token_field(x, s)
		}},
		{o.typeField, "token type field", func(x *C.tokenforge_fetcher_builder, s *C.char) uint32 {
			return C.tokenforge_fetcher_builder_set_token_type_field(x, s)
		}},
		{o.expiresField, "expires-in field", func(x *C.tokenforge_fetcher_builder, s *C.char) uint32 {
			return C.tokenforge_fetcher_builder_set_expires_in_field(x, s)
		}},
		{o.rtField, "refresh token field", func(x *C.tokenforge_fetcher_builder, s *C.char) uint32 {
			return C.tokenforge_fetcher_builder_set_refresh_token_field(x, s)
		}},
		{o.defaultType, "default token type", func(x *C.tokenforge_fetcher_builder, s *C.char) uint32 {
			return C.tokenforge_fetcher_builder_set_default_token_type(x, s)
		}},
		{o.tokenHeader, "token header", func(x *C.tokenforge_fetcher_builder, s *C.char) uint32 {
			return C.tokenforge_fetcher_builder_set_token_header(x, s)
		}},
		{o.tokenType, "token type", func(x *C.tokenforge_fetcher_builder, s *C.char) uint32 {
			return C.tokenforge_fetcher_builder_set_token_type(x, s)
		}},
	} {
		if f.v != "" {
			b.check(f.set(cb, b.s(f.v)), fmt.Sprintf("%s %q", f.what, f.v))
		}
	}
	if o.basic != nil {
		b.check(C.tokenforge_fetcher_builder_set_basic_auth(cb, b.s(o.basic.User), b.s(o.basic.Password)), "basic auth user")
	}
	if o.ttl != 0 {
		b.check(C.tokenforge_fetcher_builder_set_ttl_ms(cb, C.int64_t(ceilMs(o.ttl))), "TTL "+o.ttl.String())
	}
	if o.timeout < 0 {
		b.check(C.TOKENFORGE_RESULT_INVALID_ARGUMENT, "timeout "+o.timeout.String())
	} else if o.timeout > 0 {
		b.check(C.tokenforge_fetcher_builder_set_timeout_ms(cb, C.uint64_t(ceilMs(o.timeout))), "timeout "+o.timeout.String())
	}
	if o.insecure {
		b.check(C.tokenforge_fetcher_builder_set_verify_tls(cb, false), "TLS verification")
	}
	if r := o.retry; r != nil {
		if r.MaxAttempts < 0 || r.MaxAttempts > 1<<31 || r.BaseDelay < 0 {
			b.check(C.TOKENFORGE_RESULT_INVALID_ARGUMENT, "retry")
		} else {
			b.check(C.tokenforge_fetcher_builder_set_retry(cb, C.uint32_t(r.MaxAttempts), C.uint64_t(ceilMs(r.BaseDelay))),
				fmt.Sprintf("retry (%d attempts, base delay %s)", r.MaxAttempts, r.BaseDelay))
		}
	}
	for _, d := range o.dependsOn {
		b.check(C.tokenforge_fetcher_builder_add_dependency(cb, b.s(d)), fmt.Sprintf("dependency %q", d))
	}
	if r := o.refresh; r != nil {
		b.check(C.tokenforge_fetcher_builder_set_refresh_endpoint(cb, b.optional(r.TokenURL), b.optional(r.ClientID), b.optional(r.ClientSecret)),
			"refresh endpoint")
	}
	if o.renewsDependents {
		b.check(C.tokenforge_fetcher_builder_set_renews_dependents(cb, true), "renews dependents")
	}
	if o.clientAuth != "" {
		b.check(C.tokenforge_fetcher_builder_set_client_auth(cb, b.s(o.clientAuth)), fmt.Sprintf("client authentication %q", o.clientAuth))
	}
	if o.clientID != "" {
		b.check(C.tokenforge_fetcher_builder_set_client(cb, b.s(o.clientID), b.optional(o.clientSecret)), "client "+o.clientID)
	}
	id := o.identity
	if id.CAFile != "" {
		b.check(C.tokenforge_fetcher_builder_set_ca_file(cb, b.s(id.CAFile)), "CA file "+id.CAFile)
	}
	if id.ClientCert != "" || id.ClientKey != "" {
		b.check(C.tokenforge_fetcher_builder_set_client_cert(cb, b.s(id.ClientCert), b.s(id.ClientKey)), "client certificate")
	}
	if k := id.JWTKey; k != nil {
		b.check(C.tokenforge_fetcher_builder_set_jwt_key(cb, b.s(k.File), b.s(k.Alg), b.optional(k.KID)), fmt.Sprintf("JWT key %q (%s)", k.File, k.Alg))
		if k.Cert != "" {
			b.check(C.tokenforge_fetcher_builder_set_jwt_certificate(cb, b.s(k.Cert)), fmt.Sprintf("JWT certificate %q", k.Cert))
		}
	}
	if id.Issuer != "" {
		b.check(C.tokenforge_fetcher_builder_set_issuer(cb, b.s(id.Issuer)), "issuer "+id.Issuer)
	}
	if b.err != nil {
		C.tokenforge_fetcher_builder_free(cb)
		return nil, b.err
	}
	// The hooks go last: the library owns their handles from the setter on.
	if o.requestHook != nil {
		b.check(C.tf_go_builder_set_request_hook(cb, newHandle(o.requestHook)), "request hook")
	}
	if o.errorHook != nil {
		b.check(C.tf_go_builder_set_error_hook(cb, newHandle(o.errorHook)), "error hook")
	}
	if b.err != nil {
		C.tokenforge_fetcher_builder_free(cb)
		return nil, b.err
	}
	var out *C.tokenforge_fetcher
	var cerr *C.tokenforge_error
	if err := takeError(C.tokenforge_fetcher_builder_build(cb, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	return wrapFetcher(out), nil
}

// optional is s("") as NULL.
func (b *builder) optional(v string) *C.char {
	if v == "" {
		return nil
	}
	return b.s(v)
}

// newBuilder runs one builder constructor with C copies of its strings (NULL on NUL bytes,
// which the constructor refuses).
func newBuilder(strs []string, optionalLast bool, ctor func(s []*C.char) *C.tokenforge_fetcher_builder) *C.tokenforge_fetcher_builder {
	cs := make([]*C.char, len(strs))
	for i, v := range strs {
		if hasNUL(v) {
			return nil
		}
		if optionalLast && i == len(strs)-1 {
			cs[i] = cstrOrNil(v)
		} else {
			cs[i] = cstr(v)
		}
	}
	defer func() {
		for _, c := range cs {
			freeStr(c)
		}
	}()
	return ctor(cs)
}

// NewBodyFetcher builds a fetcher that reads the token from a JSON body.
func NewBodyFetcher(o BodyOptions) (*Fetcher, error) {
	cb := newBuilder([]string{o.Name, o.BaseURL, o.Endpoint}, false, func(s []*C.char) *C.tokenforge_fetcher_builder {
		return C.tokenforge_fetcher_builder_new_body(s[0], s[1], s[2])
	})
	return build(cb, o.Name, &common{
		method: o.Method, headers: o.Headers, data: o.Data, query: o.Query, contentType: o.ContentType,
		tokenField: o.TokenField, typeField: o.TokenTypeField, expiresField: o.ExpiresInField, rtField: o.RefreshTokenField,
		defaultType: o.DefaultTokenType, basic: o.BasicAuth, ttl: o.TTL, timeout: o.Timeout, insecure: o.InsecureSkipVerify,
		clientAuth: o.ClientAuth, renewsDependents: o.RenewsDependents, retry: o.Retry, dependsOn: o.DependsOn, refresh: o.RefreshEndpoint, requestHook: o.RequestHook, errorHook: o.ErrorHook,
		identity: o.Identity, clientID: o.ClientID, clientSecret: o.ClientSecret,
	})
}

// NewHeaderFetcher builds a fetcher that reads the token from a response header.
func NewHeaderFetcher(o HeaderOptions) (*Fetcher, error) {
	cb := newBuilder([]string{o.Name, o.BaseURL, o.Endpoint}, false, func(s []*C.char) *C.tokenforge_fetcher_builder {
		return C.tokenforge_fetcher_builder_new_header(s[0], s[1], s[2])
	})
	return build(cb, o.Name, &common{
		method: o.Method, headers: o.Headers, data: o.Data, query: o.Query, contentType: o.ContentType,
		tokenHeader: o.TokenHeader, tokenType: o.TokenType, basic: o.BasicAuth, ttl: o.TTL, timeout: o.Timeout,
		insecure: o.InsecureSkipVerify, clientAuth: o.ClientAuth, renewsDependents: o.RenewsDependents, retry: o.Retry, dependsOn: o.DependsOn,
		refresh: o.RefreshEndpoint, requestHook: o.RequestHook, errorHook: o.ErrorHook,
		identity: o.Identity, clientID: o.ClientID, clientSecret: o.ClientSecret,
	})
}

// NewClientCredentialsFetcher builds a fetcher for the OAuth2 client_credentials grant.
func NewClientCredentialsFetcher(o ClientCredentialsOptions) (*Fetcher, error) {
	cb := newBuilder([]string{o.Name, o.TokenURL, o.ClientID, o.ClientSecret, o.Scope}, true, func(s []*C.char) *C.tokenforge_fetcher_builder {
		return C.tokenforge_fetcher_builder_new_client_credentials(s[0], s[1], s[2], s[3], s[4])
	})
	if cb != nil && o.ClientAuthInBody {
		if rc := C.tokenforge_fetcher_builder_set_client_auth_in_body(cb, true); rc != C.TOKENFORGE_RESULT_OK {
			C.tokenforge_fetcher_builder_free(cb)
			return nil, (&builder{name: o.Name}).fail(rc, "client authentication in body")
		}
	}
	return build(cb, o.Name, &common{
		headers: o.Headers, data: o.Data, query: o.Query,
		tokenField: o.TokenField, typeField: o.TokenTypeField, expiresField: o.ExpiresInField, rtField: o.RefreshTokenField,
		defaultType: o.DefaultTokenType, ttl: o.TTL, timeout: o.Timeout, insecure: o.InsecureSkipVerify,
		clientAuth: o.ClientAuth, renewsDependents: o.RenewsDependents, retry: o.Retry, dependsOn: o.DependsOn, refresh: o.RefreshEndpoint, requestHook: o.RequestHook, errorHook: o.ErrorHook,
		identity: o.Identity,
	})
}

// JWTBearerOptions configure the JWT bearer grant (RFC 7523 section 2.1, the flow of Google
// service accounts): an assertion signed with Identity.JWTKey (required), with iss =
// AssertionIssuer, sub = AssertionSubject (when set), aud = AssertionAudience (default: the
// token endpoint), Scope (also sent as a parameter), a fresh jti, iat and exp
// (AssertionLifetime, default 5 minutes, at most 1 hour), exchanged at TokenURL (or the
// Identity.Issuer's token endpoint).
type JWTBearerOptions struct {
	Name, TokenURL                     string
	AssertionIssuer, AssertionSubject  string
	AssertionAudience, Scope           string
	AssertionLifetime                  time.Duration
	ClientID, ClientSecret, ClientAuth string
	Identity
	TTL, Timeout       time.Duration
	InsecureSkipVerify bool
	Retry              *Retry
	DependsOn          []string
	RequestHook        RequestHook
	ErrorHook          ErrorHook
}

// NewJWTBearerFetcher builds a fetcher for the JWT bearer grant.
func NewJWTBearerFetcher(o JWTBearerOptions) (*Fetcher, error) {
	cb := newBuilder([]string{o.Name, o.TokenURL, o.AssertionIssuer, o.AssertionSubject, o.Scope}, true, func(s []*C.char) *C.tokenforge_fetcher_builder {
		return C.tokenforge_fetcher_builder_new_jwt_bearer(s[0], s[1], s[2], s[3], s[4])
	})
	if cb != nil && o.AssertionAudience != "" {
		a := cstr(o.AssertionAudience)
		rc := C.tokenforge_fetcher_builder_set_assertion_audience(cb, a)
		freeStr(a)
		if rc != C.TOKENFORGE_RESULT_OK {
			C.tokenforge_fetcher_builder_free(cb)
			return nil, (&builder{name: o.Name}).fail(rc, "assertion audience")
		}
	}
	if cb != nil && o.AssertionLifetime != 0 {
		if rc := C.tokenforge_fetcher_builder_set_assertion_lifetime_ms(cb, C.int64_t(ceilMs(o.AssertionLifetime))); rc != C.TOKENFORGE_RESULT_OK {
			C.tokenforge_fetcher_builder_free(cb)
			return nil, (&builder{name: o.Name}).fail(rc, "assertion lifetime "+o.AssertionLifetime.String())
		}
	}
	return build(cb, o.Name, &common{
		ttl: o.TTL, timeout: o.Timeout, insecure: o.InsecureSkipVerify, clientAuth: o.ClientAuth, retry: o.Retry,
		dependsOn: o.DependsOn, requestHook: o.RequestHook, errorHook: o.ErrorHook,
		identity: o.Identity, clientID: o.ClientID, clientSecret: o.ClientSecret,
	})
}

// TokenExchangeOptions configure token exchange (RFC 8693): SubjectToken (a template, such
// as "{{user.access_token}}", of a step in DependsOn) of SubjectTokenType (default an access
// token), and optionally an ActorToken, exchanged at TokenURL (or the Identity.Issuer's token
// endpoint) for a token of RequestedTokenType for Audience, Resource and Scope. The answer's
// issued_token_type is kept on the token (Token.Extra).
type TokenExchangeOptions struct {
	Name, TokenURL                         string
	SubjectToken, SubjectTokenType         string
	ActorToken, ActorTokenType             string
	RequestedTokenType, Audience, Resource string
	Scope                                  string
	ClientID, ClientSecret, ClientAuth     string
	Identity
	TTL, Timeout       time.Duration
	InsecureSkipVerify bool
	Retry              *Retry
	DependsOn          []string
	RefreshEndpoint    *RefreshEndpoint
	RequestHook        RequestHook
	ErrorHook          ErrorHook
}

// NewTokenExchangeFetcher builds a fetcher for token exchange.
func NewTokenExchangeFetcher(o TokenExchangeOptions) (*Fetcher, error) {
	cb := newBuilder([]string{o.Name, o.TokenURL, o.SubjectToken, o.SubjectTokenType}, true, func(s []*C.char) *C.tokenforge_fetcher_builder {
		return C.tokenforge_fetcher_builder_new_token_exchange(s[0], s[1], s[2], s[3])
	})
	if cb != nil && o.ActorToken != "" {
		a, t := cstr(o.ActorToken), cstrOrNil(o.ActorTokenType)
		rc := C.tokenforge_fetcher_builder_set_actor_token(cb, a, t)
		freeStr(a)
		freeStr(t)
		if rc != C.TOKENFORGE_RESULT_OK {
			C.tokenforge_fetcher_builder_free(cb)
			return nil, (&builder{name: o.Name}).fail(rc, "actor token")
		}
	}
	data := map[string]string{}
	for k, v := range map[string]string{"requested_token_type": o.RequestedTokenType, "audience": o.Audience, "resource": o.Resource, "scope": o.Scope} {
		if v != "" {
			data[k] = v
		}
	}
	return build(cb, o.Name, &common{
		data: data, ttl: o.TTL, timeout: o.Timeout, insecure: o.InsecureSkipVerify, clientAuth: o.ClientAuth, retry: o.Retry,
		dependsOn: o.DependsOn, refresh: o.RefreshEndpoint, requestHook: o.RequestHook, errorHook: o.ErrorHook,
		identity: o.Identity, clientID: o.ClientID, clientSecret: o.ClientSecret,
	})
}

// NewCustomFetcher makes a step whose fetch is a Go function. Dependencies and TTL work as
// for the other fetchers.
func NewCustomFetcher(o CustomOptions) (*Fetcher, error) {
	if o.Fetch == nil {
		return nil, invalidArgument("step %q: CustomOptions.Fetch is nil", o.Name)
	}
	if hasNUL(o.Name) {
		return nil, invalidArgument("step name must not contain NUL")
	}
	ttl := int64(-1)
	if o.TTL > 0 {
		ttl = ceilMs(o.TTL)
	} else if o.TTL < 0 {
		return nil, invalidArgument("step %q: TTL must not be negative", o.Name)
	}
	name := cstr(o.Name)
	defer freeStr(name)
	var deps unsafe.Pointer
	if n := len(o.DependsOn); n > 0 {
		deps = C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof((*C.char)(nil))))
		defer C.free(deps)
		arr := unsafe.Slice((**C.char)(deps), n)
		for i, d := range o.DependsOn {
			if hasNUL(d) {
				continue // left NULL: refused by the library
			}
			arr[i] = cstr(d)
			defer freeStr(arr[i])
		}
	}
	var out *C.tokenforge_fetcher
	var cerr *C.tokenforge_error
	rc := C.tf_go_fetcher_new_custom(name, (**C.char)(deps), C.size_t(len(o.DependsOn)), C.int64_t(ttl),
		newHandle(o.Fetch), &out, &cerr)
	if err := takeError(rc, cerr); err != nil {
		return nil, err
	}
	return wrapFetcher(out), nil
}

// acquire returns the C fetcher, held until release.
func (f *Fetcher) acquire() (*C.tokenforge_fetcher, bool) {
	if f == nil {
		return nil, false
	}
	p, ok := f.obj.acquire()
	return (*C.tokenforge_fetcher)(p), ok
}

// Fetch obtains a new token (no caching: see Pipeline for that). ctx (may be nil) holds
// the tokens of the declared dependencies. It blocks for at most the fetcher's deadline.
func (f *Fetcher) Fetch(ctx *Context) (*Token, error) {
	p, ok := f.acquire()
	if !ok {
		return nil, ErrClosed
	}
	defer f.obj.release()
	var cp *C.tokenforge_context
	if ctx != nil {
		if cp, ok = ctx.rlock(); !ok {
			return nil, ErrClosed
		}
		defer ctx.runlock()
	}
	var out *C.tokenforge_token
	var cerr *C.tokenforge_error
	rc := C.tokenforge_fetcher_fetch(p, cp, &out, &cerr)
	runtime.KeepAlive(f)
	runtime.KeepAlive(ctx)
	if err := takeError(rc, cerr); err != nil {
		C.tokenforge_token_free(out)
		return nil, err
	}
	return wrapToken(out), nil
}

// Name returns the step name ("" when closed).
func (f *Fetcher) Name() string {
	p, ok := f.acquire()
	if !ok {
		return ""
	}
	s := goStr(C.tokenforge_fetcher_name(p))
	f.obj.release()
	runtime.KeepAlive(f)
	return s
}

// Dependencies returns the names of the steps this one needs.
func (f *Fetcher) Dependencies() []string {
	p, ok := f.acquire()
	if !ok {
		return nil
	}
	n := int(C.tokenforge_fetcher_dependency_count(p))
	deps := make([]string, 0, n)
	for i := 0; i < n; i++ {
		deps = append(deps, goStr(C.tokenforge_fetcher_dependency(p, C.size_t(i))))
	}
	f.obj.release()
	runtime.KeepAlive(f)
	return deps
}

// Close releases the caller's reference to the fetcher (pipelines keep theirs). It is
// idempotent.
func (f *Fetcher) Close() {
	if f != nil && f.obj.close() {
		runtime.SetFinalizer(f, nil)
	}
}
