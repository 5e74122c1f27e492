//! `tokenforge_fetcher_builder`: the options of a fetcher under construction. Single-threaded;
//! consumed by `tokenforge_fetcher_builder_build`, or abandoned with
//! `tokenforge_fetcher_builder_free`.

use super::context::context_ptr;
use super::context::tokenforge_context;
use super::error::tokenforge_error;
use super::fetcher::tokenforge_fetcher;
use super::handle::{arg_mut, take_box, to_arc, to_box, Castable, OwnershipBox};
use super::request::{request_hook, tokenforge_request_hook};
use super::userdata::{tokenforge_free_userdata, UserData};
use super::{fallible, guarded, opt_str_arg, out_arg, str_arg, write_out};
use crate::context::Context;
use crate::error::{Error, Result, ResultCode};
use crate::fetcher::FetcherBuilder;
use crate::http::ContentType;
use crate::oauth2::ClientAuthMethod;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

/// Options of a fetcher under construction. Single-threaded. Consumed by
/// `tokenforge_fetcher_builder_build`, or abandoned with `tokenforge_fetcher_builder_free`.
pub struct tokenforge_fetcher_builder {
    _private: [u8; 0],
}

impl Castable for tokenforge_fetcher_builder {
    type Ownership = OwnershipBox;
    type Rust = FetcherBuilder;
}

/// How request data is encoded in a POST body.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentTypeC {
    /// `application/x-www-form-urlencoded` (default).
    Form = 0,
    /// `application/json`, an object of string values.
    Json = 1,
}

/// A content type as C passes it in: any 32-bit value, checked before use. Appears in the
/// header as `tokenforge_content_type`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct ContentTypeArg(pub u32);

/// A builder made by `make` from three string arguments; NULL when one is NULL or not UTF-8.
///
/// # Safety
/// Each string is NULL or NUL-terminated.
unsafe fn new_builder(
    name: *const c_char,
    a: *const c_char,
    b: *const c_char,
    make: fn(&str, &str, &str) -> FetcherBuilder,
) -> *mut tokenforge_fetcher_builder {
    let args = || -> Result<FetcherBuilder> {
        // SAFETY: the caller passes what the Safety section says.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: the caller passes what the Safety section says.
        Ok(make(name, unsafe { str_arg(a, "base_url") }?, unsafe { str_arg(b, "endpoint") }?))
    };
    args().map_or(ptr::null_mut(), to_box)
}

/// A builder for a fetcher that reads the token from the JSON body answered by
/// `base_url` + `endpoint` (BodyTokenFetcher). Strings are copied. NULL when an argument is
/// NULL or not UTF-8 (the URL itself is checked by build). Owned by the caller. Thread-safe.
///
/// # Safety
/// Each string is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_new_body(
    name: *const c_char,
    base_url: *const c_char,
    endpoint: *const c_char,
) -> *mut tokenforge_fetcher_builder {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null_mut(), { unsafe { new_builder(name, base_url, endpoint, FetcherBuilder::body) } })
}

/// A builder for a fetcher that reads the token from a response header (HeaderTokenFetcher);
/// header "Authorization" and type "Bearer" unless set otherwise. Strings are copied. NULL
/// when an argument is NULL or not UTF-8. Owned by the caller. Thread-safe.
///
/// # Safety
/// Each string is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_new_header(
    name: *const c_char,
    base_url: *const c_char,
    endpoint: *const c_char,
) -> *mut tokenforge_fetcher_builder {
    // SAFETY: the caller passes what the Safety section says.
    guarded!(ptr::null_mut(), { unsafe { new_builder(name, base_url, endpoint, FetcherBuilder::header) } })
}

/// A builder for the OAuth2 client_credentials grant: POSTs a form with
/// `grant_type=client_credentials` (and `scope` when not NULL or empty) to `token_url`,
/// authenticating the client by HTTP Basic unless
/// `tokenforge_fetcher_builder_set_client_auth_in_body` says otherwise. Strings are copied.
/// NULL when a required argument is NULL or a string is not UTF-8. Owned by the caller.
/// Thread-safe.
///
/// # Safety
/// Each string is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_new_client_credentials(
    name: *const c_char,
    token_url: *const c_char,
    client_id: *const c_char,
    client_secret: *const c_char,
    scope: *const c_char,
) -> *mut tokenforge_fetcher_builder {
    guarded!(ptr::null_mut(), {
        let args = || -> Result<FetcherBuilder> {
            Ok(FetcherBuilder::client_credentials(
                // SAFETY: the caller passes what the Safety section says.
                unsafe { str_arg(name, "name") }?,
                // SAFETY: the caller passes what the Safety section says.
                unsafe { str_arg(token_url, "token_url") }?,
                // SAFETY: the caller passes what the Safety section says.
                unsafe { str_arg(client_id, "client_id") }?,
                // SAFETY: the caller passes what the Safety section says.
                unsafe { str_arg(client_secret, "client_secret") }?,
                // SAFETY: the caller passes what the Safety section says.
                unsafe { opt_str_arg(scope, "scope") }?,
            ))
        };
        args().map_or(ptr::null_mut(), to_box)
    })
}

/// A builder for the JWT bearer grant (RFC 7523 section 2.1, the flow of Google service
/// accounts): POSTs `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an
/// assertion signed by the key of `tokenforge_fetcher_builder_set_jwt_key` (required), with
/// `iss` = `issuer`, `sub` = `subject` (nullable), `aud` = the token endpoint (see
/// `tokenforge_fetcher_builder_set_assertion_audience`), `scope` (nullable; also sent as a
/// parameter), a fresh `jti`, `iat` and an `exp` 5 minutes later. Strings are copied. NULL
/// when a required argument is NULL or a string is not UTF-8. Owned by the caller.
/// Thread-safe.
///
/// # Safety
/// Each string is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_new_jwt_bearer(
    name: *const c_char,
    token_url: *const c_char,
    issuer: *const c_char,
    subject: *const c_char,
    scope: *const c_char,
) -> *mut tokenforge_fetcher_builder {
    guarded!(ptr::null_mut(), {
        let args = || -> Result<FetcherBuilder> {
            // SAFETY: the caller passes what the Safety section says.
            unsafe {
                Ok(FetcherBuilder::jwt_bearer(
                    str_arg(name, "name")?,
                    str_arg(token_url, "token_url")?,
                    str_arg(issuer, "issuer")?,
                    opt_str_arg(subject, "subject")?,
                    opt_str_arg(scope, "scope")?,
                ))
            }
        };
        args().map_or(ptr::null_mut(), to_box)
    })
}

/// A builder for token exchange (RFC 8693): POSTs
/// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` with `subject_token` (a
/// template, usually, such as "{{user.access_token}}": declare that step a dependency) of
/// `subject_token_type` (NULL: "urn:ietf:params:oauth:token-type:access_token").
/// `requested_token_type`, `audience`, `resource` and `scope` are request data
/// (`tokenforge_fetcher_builder_add_request_data`); `tokenforge_fetcher_builder_set_actor_token`
/// adds an actor; `tokenforge_fetcher_builder_set_client` a client. The answer's
/// `issued_token_type` is kept on the token (`tokenforge_token_extra`). Strings are copied.
/// NULL when a required argument is NULL or a string is not UTF-8. Owned by the caller.
/// Thread-safe.
///
/// # Safety
/// Each string is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_new_token_exchange(
    name: *const c_char,
    token_url: *const c_char,
    subject_token: *const c_char,
    subject_token_type: *const c_char,
) -> *mut tokenforge_fetcher_builder {
    guarded!(ptr::null_mut(), {
        let args = || -> Result<FetcherBuilder> {
            // SAFETY: the caller passes what the Safety section says.
            unsafe {
                Ok(FetcherBuilder::token_exchange(
                    str_arg(name, "name")?,
                    str_arg(token_url, "token_url")?,
                    str_arg(subject_token, "subject_token")?,
                    opt_str_arg(subject_token_type, "subject_token_type")?,
                ))
            }
        };
        args().map_or(ptr::null_mut(), to_box)
    })
}

/// Runs one setter: NULL builder or strings, invalid UTF-8 and bad values give
/// `INVALID_ARGUMENT` and leave the builder as it was.
///
/// # Safety
/// `b` is NULL or a live builder no one else uses meanwhile; `apply` may rely on the string
/// arguments of the setter being NULL or NUL-terminated.
unsafe fn set(b: *mut tokenforge_fetcher_builder, apply: impl FnOnce(&mut FetcherBuilder) -> Result<()>) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    fallible!(ptr::null_mut(), { apply(unsafe { arg_mut(b, "builder") }?) })
}

/// Sets the HTTP method: "GET" or "POST" (default), any case. With GET, request data goes
/// into the query string. Copies `method`. `INVALID_ARGUMENT` for NULL, bad UTF-8, another
/// method, or GET on a client_credentials builder. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `method` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_method(
    b: *mut tokenforge_fetcher_builder,
    method: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.method(str_arg(method, "method")?)) }
}

/// Adds (or replaces, matching the name case-insensitively) a request header. The value may
/// hold `{{step.field}}` templates. Copies both. `INVALID_ARGUMENT` for NULL, bad UTF-8, a
/// name that is not an HTTP token, or CR, LF or NUL in the value. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_add_request_header(
    b: *mut tokenforge_fetcher_builder,
    name: *const c_char,
    value: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.request_header(str_arg(name, "name")?, str_arg(value, "value")?)) }
}

/// Adds (or replaces) a request data field: in the body (form or JSON), or in the query
/// string with GET. The value may hold templates. Copies both. `INVALID_ARGUMENT` for NULL,
/// bad UTF-8 or an empty key. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_add_request_data(
    b: *mut tokenforge_fetcher_builder,
    key: *const c_char,
    value: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.request_data(str_arg(key, "key")?, str_arg(value, "value")?)) }
}

/// Adds (or replaces) a query parameter. The value may hold templates. Copies both.
/// `INVALID_ARGUMENT` for NULL, bad UTF-8 or an empty key. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_add_query_param(
    b: *mut tokenforge_fetcher_builder,
    key: *const c_char,
    value: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.query_param(str_arg(key, "key")?, str_arg(value, "value")?)) }
}

/// Sets how data is encoded in a POST body (form by default). `INVALID_ARGUMENT` for a value
/// that is no `tokenforge_content_type`, or JSON on a client_credentials builder. One thread
/// at a time.
///
/// # Safety
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_content_type(
    b: *mut tokenforge_fetcher_builder,
    t: ContentTypeArg,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        set(b, |b| match t.0 {
            x if x == ContentTypeC::Form as u32 => b.content_type(ContentType::Form),
            x if x == ContentTypeC::Json as u32 => b.content_type(ContentType::Json),
            x => Err(Error::invalid_argument(format!("unknown content type {x}"))),
        })
    }
}

/// Field holding the access token (default "access_token"); a dotted path ("data.auth.token")
/// reaches nested objects, an exact key wins over a path. Body and client_credentials
/// builders only. Copies `path`. `INVALID_ARGUMENT` for NULL, bad UTF-8, empty, or a header
/// builder. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_token_field(
    b: *mut tokenforge_fetcher_builder,
    path: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.token_field(str_arg(path, "path")?)) }
}

/// Field holding the token type (default "token_type"); as `set_token_field`.
///
/// # Safety
/// `b` is NULL or a live builder; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_token_type_field(
    b: *mut tokenforge_fetcher_builder,
    path: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.token_type_field(str_arg(path, "path")?)) }
}

/// Field holding the lifetime in seconds (default "expires_in"): an integer, a float or a
/// numeric string; null, absent or non-positive means unknown. As `set_token_field`.
///
/// # Safety
/// `b` is NULL or a live builder; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_expires_in_field(
    b: *mut tokenforge_fetcher_builder,
    path: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.expires_in_field(str_arg(path, "path")?)) }
}

/// Field holding the refresh token (default "refresh_token"); as `set_token_field`.
///
/// # Safety
/// `b` is NULL or a live builder; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_refresh_token_field(
    b: *mut tokenforge_fetcher_builder,
    path: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.refresh_token_field(str_arg(path, "path")?)) }
}

/// Token type used when the response gives none (default "Bearer"). Body and
/// client_credentials builders only. Copies `type`. `INVALID_ARGUMENT` for NULL, bad UTF-8,
/// empty, CR or LF. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `type_` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_default_token_type(
    b: *mut tokenforge_fetcher_builder,
    type_: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.default_token_type(str_arg(type_, "type")?)) }
}

/// Response header holding the token (default "Authorization"), matched case-insensitively.
/// Header builders only. Copies `header`. `INVALID_ARGUMENT` for NULL, bad UTF-8, a name that
/// is not an HTTP token, or a body builder. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `header` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_token_header(
    b: *mut tokenforge_fetcher_builder,
    header: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.token_header(str_arg(header, "header")?)) }
}

/// Type of the header token (default "Bearer"); a header value starting with it and a space
/// is stored without that prefix. Header builders only. As `set_default_token_type`.
///
/// # Safety
/// `b` is NULL or a live builder; `type_` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_token_type(
    b: *mut tokenforge_fetcher_builder,
    type_: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.token_type(str_arg(type_, "type")?)) }
}

/// Authenticates the token request by HTTP Basic. Copies both; the password is a secret and
/// never appears in messages. `INVALID_ARGUMENT` for NULL, bad UTF-8 or ':' in `user`. One
/// thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_basic_auth(
    b: *mut tokenforge_fetcher_builder,
    user: *const c_char,
    password: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.basic_auth(str_arg(user, "user")?, str_arg(password, "password")?)) }
}

/// `true` sends client_id and client_secret as body parameters (client_secret_post) instead
/// of HTTP Basic, to the client_credentials grant and to the refresh endpoint; the same as
/// `tokenforge_fetcher_builder_set_client_auth` with "client_secret_post". One thread at a
/// time.
///
/// # Safety
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_client_auth_in_body(
    b: *mut tokenforge_fetcher_builder,
    in_body: bool,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.client_auth_in_body(in_body)) }
}

/// How the client authenticates, to its own grant and to the refresh endpoint:
/// "client_secret_basic" (or "basic", the default), "client_secret_post" (or "post"),
/// "client_secret_jwt" (an HS256 assertion signed with the secret), "private_key_jwt" (an
/// assertion signed with the key of `tokenforge_fetcher_builder_set_jwt_key`; RFC 7523,
/// OpenID Connect section 9: `iss` = `sub` = client id, `aud` = the token endpoint, a fresh
/// `jti`, `iat`, `exp` a minute later, made for every request), "tls_client_auth" (or "tls":
/// the client certificate of `tokenforge_fetcher_builder_set_client_cert`, RFC 8705) or
/// "none" (a public client). Copies `method`. `INVALID_ARGUMENT` for NULL, bad UTF-8 or
/// another method. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `method` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_client_auth(
    b: *mut tokenforge_fetcher_builder,
    method: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.client_auth(ClientAuthMethod::parse(str_arg(method, "method")?)?)) }
}

/// Trusts the CA certificates in the PEM file `pem_path` instead of the system trust store
/// (as curl's `--cacert`), for every request of the step. The file is read by build
/// (`INVALID_ARGUMENT` there when it is missing or holds no certificate). Copies `pem_path`.
/// `INVALID_ARGUMENT` for NULL, bad UTF-8 or empty. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `pem_path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_ca_file(
    b: *mut tokenforge_fetcher_builder,
    pem_path: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.ca_file(str_arg(pem_path, "pem_path")?)) }
}

/// Mutual TLS (RFC 8705): presents the certificate chain in `cert_pem_path` with the private
/// key in `key_pem_path` to servers that ask, for every request of the step. With
/// `tokenforge_fetcher_builder_set_client_auth(b, "tls_client_auth")` the certificate is the
/// client's only credential. The files are read by build (`INVALID_ARGUMENT` there, naming
/// the file). Copies both. `INVALID_ARGUMENT` for NULL, bad UTF-8 or empty. One thread at a
/// time.
///
/// # Safety
/// `b` is NULL or a live builder; the paths are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_client_cert(
    b: *mut tokenforge_fetcher_builder,
    cert_pem_path: *const c_char,
    key_pem_path: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        set(b, |b| b.client_cert(str_arg(cert_pem_path, "cert_pem_path")?, str_arg(key_pem_path, "key_pem_path")?))
    }
}

/// The client that authenticates the step's own request, for body, header, jwt_bearer and
/// token_exchange builders (a client_credentials builder has its own), as
/// `tokenforge_fetcher_builder_set_client_auth` says. `client_secret` NULL: a public client,
/// or one that authenticates by key (private_key_jwt) or certificate (tls_client_auth).
/// Copies both. `INVALID_ARGUMENT` for a NULL or empty id, or bad UTF-8. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_client(
    b: *mut tokenforge_fetcher_builder,
    client_id: *const c_char,
    client_secret: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.client(str_arg(client_id, "client_id")?, opt_str_arg(client_secret, "client_secret")?)) }
}

/// The private key (PEM file; RSA for "RS256" and "PS256", P-256 PKCS#8 for "ES256") that
/// signs the jwt_bearer assertion and `private_key_jwt` client assertions, with an optional
/// `kid` (nullable) for their header. The file is read by build (`INVALID_ARGUMENT` there
/// when it is missing or does not fit `alg`). Copies the strings. `INVALID_ARGUMENT` for
/// NULL, bad UTF-8, an empty path, or an algorithm other than RS256, PS256 and ES256. One
/// thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_jwt_key(
    b: *mut tokenforge_fetcher_builder,
    key_pem_path: *const c_char,
    alg: *const c_char,
    kid: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        set(b, |b| b.jwt_key(str_arg(key_pem_path, "key_pem_path")?, str_arg(alg, "alg")?, opt_str_arg(kid, "kid")?))
    }
}

/// The X.509 certificate (PEM file, the first certificate in it) of the key set with
/// `tokenforge_fetcher_builder_set_jwt_key`: the signed assertions then carry its SHA-1 and
/// SHA-256 thumbprints in their header (`x5t`, `x5t#S256`), which Microsoft Entra ID
/// certificate credentials need. The file is read by build (`INVALID_ARGUMENT` there when it
/// is missing or holds no certificate; `CONFIG` when no key is set). Copies the string.
/// `INVALID_ARGUMENT` for NULL, bad UTF-8 or an empty path. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `cert_pem_path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_jwt_certificate(
    b: *mut tokenforge_fetcher_builder,
    cert_pem_path: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.jwt_certificate(str_arg(cert_pem_path, "cert_pem_path")?)) }
}

/// Discovery (RFC 8414, OpenID Connect Discovery): the token endpoint is the one in the
/// metadata of `issuer` (fetched through this step's fetcher at its first fetch, once per
/// issuer and process, and checked: its `issuer` must be this one); it replaces the URL
/// given to the constructor. Copies `issuer`. `INVALID_ARGUMENT` for NULL, bad UTF-8 or not
/// an http(s) URL. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `issuer` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_issuer(
    b: *mut tokenforge_fetcher_builder,
    issuer: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.issuer(str_arg(issuer, "issuer")?)) }
}

/// jwt_bearer builders: the assertion's `aud` (default: the token endpoint). Copies it.
/// `INVALID_ARGUMENT` for NULL, bad UTF-8, empty, or another kind of builder. One thread at a
/// time.
///
/// # Safety
/// `b` is NULL or a live builder; `audience` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_assertion_audience(
    b: *mut tokenforge_fetcher_builder,
    audience: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.assertion_audience(str_arg(audience, "audience")?)) }
}

/// jwt_bearer builders: how long the assertion is valid, 1000 to 3600000 ms (default 300000).
/// `INVALID_ARGUMENT` out of range or for another kind of builder. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_assertion_lifetime_ms(
    b: *mut tokenforge_fetcher_builder,
    ms: i64,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.assertion_lifetime_ms(ms)) }
}

/// token_exchange builders: the actor token (a template, usually) and its type (NULL: an
/// access token). Copies both. `INVALID_ARGUMENT` for NULL, bad UTF-8 or another kind of
/// builder. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_actor_token(
    b: *mut tokenforge_fetcher_builder,
    actor_token: *const c_char,
    actor_token_type: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        set(b, |b| {
            b.actor_token(str_arg(actor_token, "actor_token")?, opt_str_arg(actor_token_type, "actor_token_type")?)
        })
    }
}

/// Lifetime given to every token of this fetcher, overriding the response's `expires_in`.
/// `INVALID_ARGUMENT` unless positive. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_ttl_ms(
    b: *mut tokenforge_fetcher_builder,
    ttl_ms: i64,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.ttl_ms(ttl_ms)) }
}

/// Total deadline of one fetch, retries and body included (default 30000). A slow or
/// trickling server cannot hold the caller past it. `INVALID_ARGUMENT` for 0. One thread at
/// a time.
///
/// # Safety
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_timeout_ms(
    b: *mut tokenforge_fetcher_builder,
    ms: u64,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.timeout_ms(ms)) }
}

/// Whether the server's TLS certificate is verified (default true), for every request of the
/// step (its refresh grant included). Turn off only for test servers. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_verify_tls(
    b: *mut tokenforge_fetcher_builder,
    verify: bool,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.verify_tls(verify)) }
}

/// Retries: `max_attempts` in all (1 to 10, 1 = no retry; default 3) on connect failures,
/// 408, 429 and 5xx, waiting `base_delay_ms` (at most 60000; default 200) doubled each time,
/// with jitter, or what Retry-After asks, never past the deadline. `INVALID_ARGUMENT` out of
/// range. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_retry(
    b: *mut tokenforge_fetcher_builder,
    max_attempts: u32,
    base_delay_ms: u64,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.retry(max_attempts, base_delay_ms)) }
}

/// Declares that this step needs the token of `step` (idempotent). Copies `step`.
/// `INVALID_ARGUMENT` for NULL, bad UTF-8 or empty. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `step` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_add_dependency(
    b: *mut tokenforge_fetcher_builder,
    step: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.dependency(str_arg(step, "step")?)) }
}

/// Called once for every failed request of the step (its own grant or its refresh grant),
/// and for each storage failure in a pipeline, with the error and the context (NULL when
/// none), both borrowed for the call. Must not free them. Runs on the thread that made the
/// request, which may be a library thread.
pub type tokenforge_error_hook =
    Option<unsafe extern "C" fn(userdata: *mut c_void, error: *const tokenforge_error, ctx: *const tokenforge_context)>;

/// Sets the request hook of a body, header or client_credentials builder, replacing any
/// earlier one (whose `free_userdata` is then called). The library owns `userdata` from now
/// on: `free_userdata` (nullable) is called exactly once, when the last owner (builder or
/// fetcher) is freed, or at once if this call fails. `INVALID_ARGUMENT` when `b` or `hook` is
/// NULL. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `hook` and `free_userdata` are NULL or valid functions.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_request_hook(
    b: *mut tokenforge_fetcher_builder,
    hook: tokenforge_request_hook,
    userdata: *mut c_void,
    free_userdata: tokenforge_free_userdata,
) -> ResultCode {
    let data = UserData::new(userdata, free_userdata);
    fallible!(ptr::null_mut(), {
        // SAFETY: the caller passes what the Safety section says.
        let b = unsafe { arg_mut(b, "builder") }?;
        let hook = hook.ok_or_else(|| Error::invalid_argument("hook is NULL"))?;
        b.request_hook(request_hook(hook, data));
        Ok(())
    })
}

/// Sets the error hook of a builder, replacing any earlier one. Ownership of `userdata` as
/// for `tokenforge_fetcher_builder_set_request_hook`. `INVALID_ARGUMENT` when `b` or `hook`
/// is NULL. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; `hook` and `free_userdata` are NULL or valid functions.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_error_hook(
    b: *mut tokenforge_fetcher_builder,
    hook: tokenforge_error_hook,
    userdata: *mut c_void,
    free_userdata: tokenforge_free_userdata,
) -> ResultCode {
    let data = UserData::new(userdata, free_userdata);
    fallible!(ptr::null_mut(), {
        // SAFETY: the caller passes what the Safety section says.
        let b = unsafe { arg_mut(b, "builder") }?;
        let hook = hook.ok_or_else(|| Error::invalid_argument("hook is NULL"))?;
        b.error_hook(Arc::new(move |error: &Error, context: Option<&Context>| {
            // SAFETY: hook is the caller's function for this userdata; error and the context
            // are live for the call.
            unsafe { hook(data.ptr(), ptr::from_ref(error).cast(), context_ptr(context)) }
        }));
        Ok(())
    })
}

/// In a pipeline, a cached token that carries a refresh token is renewed at `token_url`
/// (NULL: the step's own token endpoint; `grant_type=refresh_token`) before falling back to
/// a full fetch on `invalid_grant`. The
/// refresh request is sent the way of the step's own: the same TLS settings, deadline,
/// retries (never retried once it may have reached the server), request hook, error hook and
/// client authentication method. `client_id` NULL: the step's own client (the
/// client_credentials client, or the Basic auth user), and `client_secret` must be NULL too;
/// a `client_id` with NULL `client_secret` is a public client (`client_id` in the body).
/// Strings are copied. `INVALID_ARGUMENT` for bad UTF-8, a bad URL, an empty client id, or a
/// secret without client id. One thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder; strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_refresh_endpoint(
    b: *mut tokenforge_fetcher_builder,
    token_url: *const c_char,
    client_id: *const c_char,
    client_secret: *const c_char,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe {
        set(b, |b| {
            b.refresh_endpoint(
                opt_str_arg(token_url, "token_url")?,
                opt_str_arg(client_id, "client_id")?,
                opt_str_arg(client_secret, "client_secret")?,
            )
        })
    }
}
/// In a pipeline, `true` makes a renewal of this step renew its dependents at once, for
/// servers that bind derived tokens to their parent; by default (`false`) they keep their
/// tokens and renew when they go stale themselves. Invalidation cascades either way. One
/// thread at a time.
///
/// # Safety
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_set_renews_dependents(
    b: *mut tokenforge_fetcher_builder,
    renews: bool,
) -> ResultCode {
    // SAFETY: the caller passes what the Safety section says.
    unsafe { set(b, |b| b.renews_dependents(renews)) }
}

/// Builds the fetcher. Always consumes `b`, even on failure. On success `*out` receives a
/// fetcher the caller owns (free with `tokenforge_fetcher_free`). Errors:
/// `INVALID_ARGUMENT` (NULL `b` or `out`, empty name, bad URL), `CONFIG` (bad template, a
/// template naming a step that is not a dependency, a step depending on itself).
///
/// # Safety
/// `b` is NULL or a live builder, not used afterwards; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_build(
    b: *mut tokenforge_fetcher_builder,
    out: *mut *mut tokenforge_fetcher,
    err: *mut *mut tokenforge_error,
) -> ResultCode {
    fallible!(err, {
        // SAFETY: the caller passes what the Safety section says.
        let builder = unsafe { take_box(b) }.ok_or_else(|| Error::invalid_argument("builder is NULL"))?;
        out_arg(out)?;
        let fetcher = Arc::new(builder.build()?);
        // SAFETY: the caller passes what the Safety section says.
        unsafe { write_out(out, to_arc::<tokenforge_fetcher>(fetcher)) }
    })
}

/// Abandons a builder without building. NULL is a no-op; freeing twice is undefined.
///
/// # Safety
/// `b` is NULL or a live builder, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn tokenforge_fetcher_builder_free(b: *mut tokenforge_fetcher_builder) {
    // SAFETY: the caller passes what the Safety section says.
    guarded!((), { drop(unsafe { take_box(b) }) })
}
