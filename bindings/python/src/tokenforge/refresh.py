"""apiconfig's ``refresh_oauth2_token``, through ``tokenforge_oauth2_refresh``.

Unlike the reference it needs no HTTP client of the caller's, retries transport failures,
timeouts, 408, 429 and 5xx with backoff and jitter honouring Retry-After (but never a request
that may have reached the server, which may have rotated the refresh token), keeps the old
refresh token when the answer carries none, and never puts a secret in a message.
"""

from __future__ import annotations

from ctypes import byref, c_void_p
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from . import _ffi, errors
from ._ffi import enc, lib
from .errors import InvalidArgumentError
from .token import TokenData

__all__ = ["refresh_oauth2_token"]

#: The fields _response sets itself (a server's field of the same name is not passed on).
_OWN_FIELDS = frozenset({"access_token", "token_type", "expires_in", "expires_at", "refresh_token", "scope"})


def _response(token: TokenData) -> Dict[str, Any]:
    """The token response fields of ``token``, as the reference returns them."""
    out: Dict[str, Any] = {"access_token": token.access_token, "token_type": token.token_type}
    if token.expires_at is not None:
        out["expires_in"] = max(0, round((token.expires_at - datetime.now(timezone.utc)).total_seconds()))
        out["expires_at"] = token.expires_at
    if token.refresh_token:
        out["refresh_token"] = token.refresh_token
    if token.scope is not None:
        out["scope"] = token.scope
    for name, value in token.extra.items():  # id_token, refresh_expires_in... (JSON text unless strings)
        if name not in _OWN_FIELDS:
            out[name] = value
    return out


def refresh_oauth2_token(
    refresh_token: str,
    token_url: str,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    extra_params: Optional[Dict[str, Any]] = None,
    timeout: Optional[float] = None,
    max_retries: Optional[int] = None,
    client_config: Optional[Any] = None,
    http_client: Optional[Any] = None,
) -> Dict[str, Any]:
    """POSTs ``grant_type=refresh_token`` to ``token_url`` and returns the new token response
    fields: ``access_token``, ``token_type``, ``expires_in`` (seconds, when known) with
    ``expires_at`` (an aware UTC datetime), ``refresh_token`` (the old one when the server did
    not rotate it), ``scope``, and every other field the server sent (``id_token``...; as
    a string, other JSON values as JSON text).

    Args:
        refresh_token: the refresh token.
        token_url: the token endpoint.
        client_id: the client; with ``client_secret`` it authenticates by HTTP Basic, without
            it is a public client (``client_id`` in the body).
        client_secret: the client's secret, or None.
        extra_params: other form parameters (``scope``...). With them the request is sent by
            a library fetcher, without retries (whether a failed attempt reached the server,
            which may have rotated the refresh token, cannot be told there).
        timeout: the whole call's deadline in seconds (default: ``client_config.timeout``,
            else 10 s, as the reference).
        max_retries: accepted for compatibility; the library makes up to 3 attempts, and only
            the safe ones (see above).
        client_config: an apiconfig ``ClientConfig``; its ``timeout`` is the default timeout.
        http_client: accepted for compatibility and not used: the library sends the request.

    Raises:
        TokenRefreshOAuthError: the server refused (``error`` is e.g. ``"invalid_grant"``).
        TokenRefreshHTTPError: a non-2xx answer without an OAuth body.
        TokenRefreshNetworkError: the request could not be sent or answered.
        TokenRefreshTimeoutError: the deadline passed.
        TokenRefreshJsonError: the answer was not a usable token response.
        InvalidArgumentError: an empty refresh token, client id or URL.
    """
    del max_retries, http_client  # see the docstring
    if timeout is None:
        timeout = getattr(client_config, "timeout", None) or 10.0
    timeout_ms = max(1, round(float(timeout) * 1000))
    if not refresh_token:
        raise InvalidArgumentError("refresh_token is empty")
    if extra_params or client_id is None:
        return _response(_refresh_with_fetcher(refresh_token, token_url, client_id, client_secret, extra_params or {},
                                               timeout_ms))
    out = c_void_p()
    err = c_void_p()
    rc = lib.tokenforge_oauth2_refresh(enc(token_url), enc(refresh_token), enc(client_id), enc(client_secret or None),
                                       timeout_ms, byref(out), byref(err))
    errors.check(rc, err, refresh=True)
    return _response(TokenData._from_c(out.value))


def _refresh_with_fetcher(refresh_token: str, token_url: str, client_id: Optional[str], client_secret: Optional[str],
                          extra: Dict[str, Any], timeout_ms: int) -> TokenData:
    """The refresh grant with extra parameters: a body fetcher, one attempt."""
    b = lib.tokenforge_fetcher_builder_new_body(b"refresh_token", enc(token_url), b"")
    if not b:
        raise InvalidArgumentError("token_url must be non-empty text")
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **{k: str(v) for k, v in extra.items()}}
    try:
        rcs = [lib.tokenforge_fetcher_builder_add_request_data(b, enc(k), enc(v)) for k, v in data.items()]
        if client_id is not None and client_secret:
            rcs.append(lib.tokenforge_fetcher_builder_set_basic_auth(b, enc(client_id), enc(client_secret)))
        elif client_id is not None:
            rcs.append(lib.tokenforge_fetcher_builder_add_request_data(b, b"client_id", enc(client_id)))
        rcs.append(lib.tokenforge_fetcher_builder_set_timeout_ms(b, timeout_ms))
        rcs.append(lib.tokenforge_fetcher_builder_set_retry(b, 1, 0))
        bad = next((rc for rc in rcs if rc != _ffi.OK), None)
        if bad is not None:
            raise errors.class_for(bad)("refresh_oauth2_token: a parameter or the client id is not acceptable", code=bad)
    except BaseException:
        lib.tokenforge_fetcher_builder_free(b)
        raise
    f = c_void_p()
    err = c_void_p()
    errors.check(lib.tokenforge_fetcher_builder_build(b, byref(f), byref(err)), err, refresh=True)
    try:
        out = c_void_p()
        err = c_void_p()
        rc = lib.tokenforge_fetcher_fetch(f, None, byref(out), byref(err))
    finally:
        lib.tokenforge_fetcher_free(f)
    errors.check(rc, err, refresh=True)
    token = TokenData._from_c(out.value)
    if token.refresh_token:
        return token
    return TokenData(token.access_token, token.token_type, token.expires_at, refresh_token, token.scope,
                     dict(token.extra))
