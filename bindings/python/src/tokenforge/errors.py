"""Exceptions: one class per library result code, under :class:`TokenforgeError`, with the
names the reference designs use (requestforge's :class:`AuthenticationException`,
apiconfig's :class:`TokenRefreshError` family) so that their ``except`` clauses keep working.

Every error the library reports carries its code, message (never a secret), HTTP status,
step, configuration field, RFC 6749 ``error`` and ``error_description``, Retry-After and
whether retrying may help. An exception that Python code raised inside a callback (a request
hook, a custom fetcher's ``fetch``, a storage method) reaches the caller as that same object;
an error the library derived from it (a dependent step's :class:`DependencyError`) has it as
``__cause__``.
"""

from __future__ import annotations

import builtins
from ctypes import byref, c_void_p
from typing import Any, Dict, Optional, Type

from . import _ffi
from ._ffi import lib

__all__ = [
    "TokenforgeError",
    "AuthenticationException",
    "InvalidArgumentError",
    "ConfigError",
    "TransportError",
    "RequestTimeoutError",
    "HTTPStatusError",
    "OAuthError",
    "ResponseError",
    "DependencyError",
    "CallbackError",
    "StorageError",
    "TLSError",
    "PanicError",
    "TokenRefreshError",
    "TokenRefreshNetworkError",
    "TokenRefreshTimeoutError",
    "TokenRefreshJsonError",
    "TokenRefreshOAuthError",
    "TokenRefreshHTTPError",
]


class TokenforgeError(Exception):
    """A tokenforge failure.

    The constructor also takes requestforge's ``AuthenticationException`` arguments
    (``message``, ``original_exception``, ``context``, ``service_name``), so that code written
    for the reference can raise it from a custom fetcher: its code (``CALLBACK`` unless
    given) and message then reach the caller of the fetch.

    Attributes:
        code: the library result code (``tokenforge.errors`` classes map one to one).
        message: what went wrong; names the step when the library made the error. Never a
            secret.
        http_status: status of the answer behind the error, 0 when there was none.
        step: the fetcher or step that failed, or None (``service_name`` is the same).
        field: for configuration errors, the pipeline JSON key concerned, or None.
        oauth_error: the RFC 6749 ``error`` value (such as ``"invalid_client"``), or None.
        oauth_description: the RFC 6749 ``error_description``, or None.
        retry_after: seconds the server asked to wait (Retry-After), or None.
        retryable: whether trying again later may succeed.
    """

    default_code: int = _ffi.CALLBACK

    def __init__(
        self,
        message: str = "",
        original_exception: Optional[BaseException] = None,
        context: Optional[Dict[str, Any]] = None,
        service_name: Optional[str] = None,
        *,
        code: Optional[int] = None,
        http_status: int = 0,
        field: Optional[str] = None,
        oauth_error: Optional[str] = None,
        oauth_description: Optional[str] = None,
        retry_after: Optional[float] = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.original_exception = original_exception
        self.context = context or {}
        self.code = self.default_code if code is None else code
        self.http_status = http_status
        self.step = service_name
        self.field = field
        self.oauth_error = oauth_error
        self.oauth_description = oauth_description
        self.retry_after = retry_after
        self.retryable = retryable

    @property
    def service_name(self) -> Optional[str]:
        """requestforge's name for :attr:`step`."""
        return self.step

    @property
    def status_code(self) -> Optional[int]:
        """apiconfig's name for :attr:`http_status` (None when there was no answer)."""
        return self.http_status or None

    @property
    def code_name(self) -> str:
        """The code's name, such as ``"TIMEOUT"``."""
        return result_name(self.code)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code_name}, message={self.message!r}, step={self.step!r})"


#: requestforge's name for the base class: every fetch failure is one.
AuthenticationException = TokenforgeError


class InvalidArgumentError(TokenforgeError, ValueError):
    """A bad argument or option value, or an unknown step (``INVALID_ARGUMENT``)."""

    default_code = _ffi.INVALID_ARGUMENT


class ConfigError(TokenforgeError, ValueError):
    """A duplicate step, missing dependency, cycle or bad template (``CONFIG``)."""

    default_code = _ffi.CONFIG


class TransportError(TokenforgeError, ConnectionError):
    """DNS, connect or I/O failure, or a truncated response (``TRANSPORT``)."""

    default_code = _ffi.TRANSPORT


class RequestTimeoutError(TokenforgeError, builtins.TimeoutError):
    """The fetch deadline passed (``TIMEOUT``)."""

    default_code = _ffi.TIMEOUT


class HTTPStatusError(TokenforgeError):
    """A non-2xx answer without an OAuth error body, redirects included (``HTTP_STATUS``)."""

    default_code = _ffi.HTTP_STATUS


class OAuthError(TokenforgeError):
    """An RFC 6749 section 5.2 error answer (``OAUTH``): refused, do not retry."""

    default_code = _ffi.OAUTH


class ResponseError(TokenforgeError):
    """Not JSON, the token field or header missing or empty, a body too large
    (``RESPONSE``)."""

    default_code = _ffi.RESPONSE


class DependencyError(TokenforgeError):
    """A dependency step failed or is absent from the context (``DEPENDENCY``)."""

    default_code = _ffi.DEPENDENCY


class CallbackError(TokenforgeError):
    """A user callback reported failure (``CALLBACK``)."""

    default_code = _ffi.CALLBACK


class StorageError(TokenforgeError):
    """A storage backend failed (``STORAGE``)."""

    default_code = _ffi.STORAGE


class TLSError(TransportError):
    """TLS refused the connection: an untrusted, wrong-host or expired certificate, or a
    refused client certificate (``TLS``)."""

    default_code = _ffi.TLS


class PanicError(TokenforgeError):
    """A panic inside the library was caught at its C boundary (``PANIC``)."""

    default_code = _ffi.PANIC


class TokenRefreshError(TokenforgeError):
    """apiconfig: refreshing a token failed. Raised by :func:`refresh_oauth2_token`, through
    the subclasses below for each kind of failure. ``error`` and ``error_description`` are
    the RFC 6749 fields of the answer (None when it had none)."""

    @property
    def error(self) -> Optional[str]:
        """The RFC 6749 ``error`` value."""
        return self.oauth_error

    @property
    def error_description(self) -> Optional[str]:
        """The RFC 6749 ``error_description``."""
        return self.oauth_description


class TokenRefreshNetworkError(TokenRefreshError, TransportError):
    """apiconfig: the refresh request failed on the network (``TRANSPORT``)."""

    default_code = _ffi.TRANSPORT


class TokenRefreshTLSError(TokenRefreshNetworkError, TLSError):
    """The refresh request was refused by TLS (``TLS``)."""

    default_code = _ffi.TLS


class TokenRefreshTimeoutError(TokenRefreshError, RequestTimeoutError):
    """apiconfig: the refresh request timed out (``TIMEOUT``)."""

    default_code = _ffi.TIMEOUT


class TokenRefreshJsonError(TokenRefreshError, ResponseError):
    """apiconfig: the refresh answer was not a usable token response (``RESPONSE``)."""

    default_code = _ffi.RESPONSE


class TokenRefreshOAuthError(TokenRefreshError, OAuthError):
    """The server refused the refresh (``OAUTH``; ``invalid_grant``: the refresh token is
    no longer valid)."""

    default_code = _ffi.OAUTH


class TokenRefreshHTTPError(TokenRefreshError, HTTPStatusError):
    """The refresh answer had a non-2xx status without an OAuth body (``HTTP_STATUS``)."""

    default_code = _ffi.HTTP_STATUS


_BY_CODE: Dict[int, Type[TokenforgeError]] = {
    cls.default_code: cls
    for cls in (
        InvalidArgumentError, ConfigError, TransportError, RequestTimeoutError, HTTPStatusError,
        OAuthError, ResponseError, DependencyError, CallbackError, StorageError, TLSError, PanicError,
    )
}

_REFRESH_BY_CODE: Dict[int, Type[TokenforgeError]] = {
    cls.default_code: cls
    for cls in (
        TokenRefreshNetworkError, TokenRefreshTLSError, TokenRefreshTimeoutError,
        TokenRefreshJsonError, TokenRefreshOAuthError, TokenRefreshHTTPError,
    )
}


def result_name(code: int) -> str:
    """The name of a result code without prefix, e.g. ``"TIMEOUT"``; ``"UNKNOWN"`` for a
    number that is no code."""
    if not 0 <= code < 1 << 16:
        return "UNKNOWN"
    return _ffi.dec(lib.tokenforge_result_name(code)) or "UNKNOWN"


def class_for(code: int, refresh: bool = False) -> Type[TokenforgeError]:
    """The exception class of a result code (the ``TokenRefreshError`` one with ``refresh``,
    where there is one)."""
    if refresh and code in _REFRESH_BY_CODE:
        return _REFRESH_BY_CODE[code]
    return _BY_CODE.get(code, TokenforgeError)


def valid_code(code: Any) -> bool:
    """Whether ``code`` is a failure code the library knows."""
    return isinstance(code, int) and code != _ffi.OK and result_name(code) != "UNKNOWN"


def from_c(rc: int, err: Optional[int], refresh: bool = False, owned: bool = True) -> BaseException:
    """The Python exception for a failed call's result ``rc`` and error ``err`` (freed here
    when ``owned``; a borrowed one, as an error hook gets, is not). A Python exception the
    error carries as its cause is returned as it is when the error reports that very failure,
    and becomes ``__cause__`` of a derived one."""
    if not err:
        return class_for(rc, refresh)(result_name(rc), code=rc)
    try:
        record = _ffi.cause_of(err)
        code = lib.tokenforge_error_code(err)
        retry_ms = lib.tokenforge_error_retry_after_ms(err)
        exc = class_for(code, refresh)(
            _ffi.dec(lib.tokenforge_error_message(err)) or "",
            service_name=_ffi.dec(lib.tokenforge_error_step(err)),
            code=code,
            http_status=lib.tokenforge_error_http_status(err),
            field=_ffi.dec(lib.tokenforge_error_field(err)),
            oauth_error=_ffi.dec(lib.tokenforge_error_oauth_error(err)),
            oauth_description=_ffi.dec(lib.tokenforge_error_oauth_description(err)),
            retry_after=None if retry_ms < 0 else retry_ms / 1000.0,
            retryable=bool(lib.tokenforge_error_is_retryable(err)),
        )
    finally:
        if owned:
            lib.tokenforge_error_free(err)
    if record is not None:
        if record.code == code:
            return record.exception
        exc.__cause__ = record.exception
    return exc


def check(rc: int, err: Any, refresh: bool = False) -> None:
    """Raises the exception of a failed call (``err`` is the ``c_void_p`` out-parameter);
    nothing for OK."""
    if rc != _ffi.OK:
        raise from_c(rc, err.value if err is not None else None, refresh)


def call_owned(owned: "_ffi.Owned", closed: str, fn: Any, *args: Any) -> None:
    """Calls ``fn(ptr, *args, &err)`` on the object ``owned`` holds (held for the call) and
    raises its error; :class:`InvalidArgumentError` with ``closed`` once it is closed."""
    ptr = owned.acquire()
    if ptr is None:
        raise InvalidArgumentError(closed)
    try:
        err = c_void_p()
        rc = fn(ptr, *args, byref(err))
    finally:
        owned.release()
    check(rc, err)


def to_c(exc: BaseException, fallback: int) -> "tuple[int, int]":
    """A new C error (owned by the caller) reporting ``exc``, a Python exception raised by a
    callback, with ``exc`` attached as its cause; and its code: the exception's own when it is
    a :class:`TokenforgeError` with a valid code, else ``fallback``."""
    own = exc.code if isinstance(exc, TokenforgeError) else None
    code: int = own if own is not None and valid_code(own) else fallback
    message = str(exc) if isinstance(exc, TokenforgeError) else f"{type(exc).__name__}: {exc}"
    if not message.strip():
        message = type(exc).__name__
    err = lib.tokenforge_error_new(code, message.replace("\x00", "\ufffd").encode("utf-8", "replace"))
    if err:
        _ffi.attach_cause(err, exc, code)
    return err or 0, code
