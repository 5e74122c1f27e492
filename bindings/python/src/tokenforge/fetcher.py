"""Token fetchers: requestforge's ``TokenFetcherInterface``, ``HttpTokenFetcher``,
``HeaderTokenFetcher`` and ``BodyTokenFetcher``, with the reference's constructor arguments
and defaults, run by the library.

``HeaderTokenFetcher``, ``BodyTokenFetcher`` and ``ClientCredentialsTokenFetcher`` are
library fetchers: the request is built, sent, retried and read by libtokenforge (response
headers matched case-insensitively, GET data in the query string, lenient ``expires_in``,
Retry-After honoured, no secret in any message). A subclass that overrides
``_build_request_headers(context)`` or ``_build_request_data(context)`` has them called through
the library's request hook before each request, on both kinds; ``on_fetch_error`` is called
through its error hook after each failed fetch.

Any other ``TokenFetcherInterface`` (a class with its own Python ``fetch``, such as the
reference's ``CustomTokenFetcher``) becomes a custom step in a pipeline
(``tokenforge_fetcher_new_custom``), with its dependencies and TTL; so does a library fetcher
subclass that overrides ``fetch`` itself.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
import weakref
from abc import ABC, abstractmethod
from ctypes import byref, c_char_p, c_void_p
from datetime import timedelta
from enum import Enum
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from . import _ffi, errors
from ._ffi import dec, enc, lib
from .errors import CallbackError, InvalidArgumentError, RequestTimeoutError, TransportError
from .token import TokenData

__all__ = [
    "HttpMethod",
    "TokenFetcherInterface",
    "HttpTokenFetcher",
    "HeaderTokenFetcher",
    "BodyTokenFetcher",
    "ClientCredentialsTokenFetcher",
    "HttpResponse",
]

logger = logging.getLogger("tokenforge")

Context = Optional[Dict[str, TokenData]]
TTL = Union[timedelta, float, int, None]


class HttpMethod(str, Enum):
    """The methods a token request may use (requestforge's ``HttpMethod``)."""

    GET = "GET"
    POST = "POST"


def _ms(value: TTL, what: str) -> Optional[int]:
    """A duration (timedelta or seconds) in whole milliseconds (at least 1); None stays None."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise InvalidArgumentError(f"{what} must be positive")
    return max(1, round(seconds * 1000))


def _method_name(method: Any) -> str:
    return str(getattr(method, "value", method)).upper()


# -- contexts ---------------------------------------------------------------------------

# The Python dict behind each C context made by a direct fetch(context), by the context's
# address, so that the hooks of that fetch see the caller's own TokenData objects.
_direct_contexts: Dict[int, Dict[str, TokenData]] = {}


class _CContext:
    """A C context holding a Python context's tokens, for the duration of one fetch."""

    __slots__ = ("ptr", "_py")

    def __init__(self, context: Optional[Mapping[str, TokenData]]) -> None:
        self.ptr: Optional[int] = None
        self._py = context

    def __enter__(self) -> Optional[int]:
        if not self._py:
            return None
        ptr = lib.tokenforge_context_new()
        try:
            for name, token in self._py.items():
                if not isinstance(token, TokenData):
                    raise TypeError(f"context[{name!r}] must be a TokenData, not {type(token).__name__}")
                err = c_void_p()
                errors.check(lib.tokenforge_context_set(ptr, enc(name), token._c_token(), byref(err)), err)
        except BaseException:
            lib.tokenforge_context_free(ptr)
            raise
        self.ptr = ptr
        _direct_contexts[ptr] = dict(self._py)
        return ptr

    def __exit__(self, *exc: Any) -> None:
        if self.ptr is not None:
            _direct_contexts.pop(self.ptr, None)
            lib.tokenforge_context_free(self.ptr)
            self.ptr = None


def _context_for(ctx: Optional[int], names: Sequence[str]) -> Context:
    """The Python context of a C context a callback received: the caller's own dict for a
    direct fetch, else the tokens of ``names`` (the step's dependencies, which is what a
    pipeline puts there). None when empty, as the reference passes it."""
    if not ctx:
        return None
    direct = _direct_contexts.get(ctx)
    if direct is not None:
        return direct or None
    out: Dict[str, TokenData] = {}
    for name in names:
        t = lib.tokenforge_context_get(ctx, enc(name))
        if t:
            out[name] = TokenData._from_borrowed(t)
    return out or None


# -- the interface ----------------------------------------------------------------------


class TokenFetcherInterface(ABC):
    """One step of a multi-step authentication: obtains one token, maybe from the tokens of
    the steps it depends on. Subclass it and implement ``name`` and ``fetch`` to write a
    step in Python; a pipeline runs it as a custom step of the library (single-flight,
    caching, refresh-ahead, storage) on whichever thread needs its token."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Unique name of this step."""

    @property
    def depends_on(self) -> List[str]:
        """Names of the steps whose tokens this one needs (default: none)."""
        return []

    @property
    def ttl(self) -> Optional[timedelta]:
        """Lifetime given to this step's tokens, overriding their expiry (default: None)."""
        return None

    @abstractmethod
    def fetch(self, context: Context = None) -> TokenData:
        """Fetches the token of this step.

        Args:
            context: the tokens of earlier steps by step name, or None.

        Raises:
            AuthenticationException: when the fetch fails.
        """

    def on_fetch_error(self, error: BaseException, context: Context = None) -> None:
        """Called when a fetch of this step fails; logs the error by default."""
        logger.error("Token fetch failed for %s: %s", self.name, str(error))  # no reference kept

    def _tokenforge_fetcher(self) -> int:
        """The C fetcher a pipeline adds for this step (borrowed from this object): a custom
        fetcher calling this object's ``fetch``, made once."""
        owned: Optional[_ffi.Owned] = getattr(self, "_tf_custom", None)
        if owned is None:
            owned = _new_custom(self)
            object.__setattr__(self, "_tf_custom", owned)
            weakref.finalize(self, owned.close)
        ptr = owned.acquire()
        if ptr is None:  # pragma: no cover - closed only by the finalizer
            raise InvalidArgumentError(f"the fetcher of step {self.name!r} is closed")
        owned.release()  # the caller (a pipeline) takes its own reference at once
        return ptr


def _new_custom(step: TokenFetcherInterface) -> _ffi.Owned:
    name = step.name
    deps = list(step.depends_on or [])
    ttl_ms = _ms(step.ttl, "ttl")
    arr = (c_char_p * max(1, len(deps)))(*[enc(d) for d in deps])
    key = _ffi.new_handle(weakref.ref(step))
    out = c_void_p()
    err = c_void_p()
    rc = lib.tokenforge_fetcher_new_custom(
        enc(name), arr, len(deps), -1 if ttl_ms is None else ttl_ms, _FETCH, key, _ffi.FREE_HANDLE, byref(out), byref(err)
    )
    errors.check(rc, err)
    return _ffi.Owned(out.value, lib.tokenforge_fetcher_free)


def _fail_out(err_out: Any, exc: BaseException, fallback: int) -> int:
    """Reports ``exc`` through a callback's ``tokenforge_error **err``; returns the code."""
    err, code = errors.to_c(exc, fallback)
    if err_out:
        err_out[0] = err or None
    elif err:
        lib.tokenforge_error_free(err)
    return code


def _report(step: Any, exc: BaseException, context: Context) -> None:
    """Calls ``on_fetch_error``; an exception it raises is logged, never propagated (the
    fetch has failed already)."""
    try:
        step.on_fetch_error(exc, context)
    except BaseException:  # noqa: BLE001 - nothing to report it to
        logger.exception("on_fetch_error of step %r raised", getattr(step, "name", "?"))


@_ffi.FETCH_CALLBACK
def _FETCH(userdata: Optional[int], ctx: Optional[int], out: Any, err_out: Any) -> int:
    try:
        ref = _ffi.handle_value(userdata)
        step = ref() if ref is not None else None
        if step is None:
            return _fail_out(err_out, CallbackError("the Python fetcher of this step was garbage collected"), _ffi.CALLBACK)
        context = _context_for(ctx, list(step.depends_on or []))
        try:
            token = step.fetch(context)
            if not isinstance(token, TokenData):
                raise TypeError(f"{type(step).__name__}.fetch returned {type(token).__name__}, not TokenData")
            out[0] = token._c_clone()
        except BaseException as exc:  # noqa: BLE001 - reaches the caller as itself
            if not isinstance(step, _LibraryFetcher):  # those report through their error hook
                _report(step, exc, context)
            return _fail_out(err_out, exc, _ffi.CALLBACK)
        return _ffi.OK
    except BaseException as exc:  # noqa: BLE001 - never unwind into the library
        return _fail_out(err_out, exc, _ffi.CALLBACK)


# -- HTTP helper for fetchers written in Python ----------------------------------------


class HttpResponse:
    """An answer to :meth:`HttpTokenFetcher._make_request`."""

    def __init__(self, status_code: int, headers: Any, content: bytes) -> None:
        self.status_code = status_code
        #: The response headers; ``headers.get(name)`` matches names case-insensitively.
        self.headers = headers
        self.content = content

    @property
    def is_success(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (a UTF-8 byte order mark is skipped)."""
        return json.loads(self.content.decode("utf-8-sig"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx answer is returned as it is: credentials never go elsewhere


class HttpTokenFetcher(TokenFetcherInterface):
    """Base class of HTTP token fetchers (requestforge's ``HttpTokenFetcher``).

    A subclass written in Python implements ``name`` and ``fetch`` and may send its requests
    with :meth:`_make_request` (the standard library's HTTP client: no redirects followed,
    the fetcher's timeout and TLS verification). The library's own fetchers are
    :class:`HeaderTokenFetcher`, :class:`BodyTokenFetcher` and
    :class:`ClientCredentialsTokenFetcher`.

    Args:
        base_url: base URL of the token endpoint.
        timeout: request timeout in seconds.
        verify_ssl: whether to verify TLS certificates.
        headers: default headers for every request.
    """

    def __init__(self, base_url: str, timeout: float = 30.0, verify_ssl: bool = True,
                 headers: Optional[Dict[str, str]] = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._verify_ssl = verify_ssl
        self._default_headers = dict(headers or {})

    def _make_request(
        self,
        method: Any,
        endpoint: str,
        headers: Optional[Dict[str, str]] = None,
        data: Optional[Dict[str, Any]] = None,
        json_data: Optional[Dict[str, Any]] = None,
    ) -> HttpResponse:
        """Sends one request to ``base_url + endpoint``: ``data`` as a form (or the query
        string with GET), ``json_data`` as JSON. Returns the answer whatever its status.

        Raises:
            TransportError: the request could not be sent or answered (the message names the
                URL, never a header or body).
            RequestTimeoutError: the timeout passed.
        """
        verb = _method_name(method)
        url = self._base_url + "/" + endpoint.lstrip("/") if endpoint else self._base_url
        sent = {**self._default_headers, **(headers or {})}
        body: Optional[bytes] = None
        if json_data is not None:
            body = json.dumps(json_data).encode()
            sent.setdefault("Content-Type", "application/json")
        elif data:
            encoded = urllib.parse.urlencode({k: v for k, v in data.items() if v is not None})
            if verb == "GET":
                url += ("&" if "?" in url else "?") + encoded
            else:
                body = encoded.encode()
                sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if verb == "POST" and body is None:
            body = b""
        handlers: List[Any] = [_NoRedirect()]
        if url.startswith("https:"):
            context = ssl.create_default_context()
            if not self._verify_ssl:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            handlers.append(urllib.request.HTTPSHandler(context=context))
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(url, data=body, headers=sent, method=verb)
        shown = url.split("?", 1)[0]
        try:
            with opener.open(request, timeout=self._timeout) as resp:
                return HttpResponse(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as e:
            with e:
                return HttpResponse(e.code, e.headers, e.read())
        except TimeoutError:
            raise RequestTimeoutError(f"{verb} {shown}: no answer within {self._timeout} s") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, TimeoutError):
                raise RequestTimeoutError(f"{verb} {shown}: no answer within {self._timeout} s") from None
            raise TransportError(f"{verb} {shown}: {type(reason).__name__}") from None

    def close(self) -> None:
        """Releases the resources of the fetcher; it may still be used afterwards."""


# -- library fetchers -----------------------------------------------------------------


class _LibraryFetcher(HttpTokenFetcher):
    """A fetcher that libtokenforge runs (a ``tokenforge_fetcher`` built from options)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        method: Any,
        request_headers: Optional[Dict[str, str]],
        request_data: Optional[Dict[str, Any]],
        ttl: TTL,
        timeout: float,
        verify_ssl: bool,
        depends_on: Optional[List[str]],
        query_params: Optional[Dict[str, str]],
        max_attempts: int,
        retry_delay: float,
        ca_file: Optional[str],
    ) -> None:
        super().__init__(base_url, timeout, verify_ssl)
        self._name = name
        self._method = method
        self._request_headers = dict(request_headers or {})
        self._request_data = dict(request_data or {})
        self._ttl = ttl
        self._depends_on = list(depends_on or [])
        self._query_params = dict(query_params or {})
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._ca_file = ca_file
        self._owned: Optional[_ffi.Owned] = None
        self._build_lock = threading.Lock()

    # Built by the concrete classes' __init__, after their own fields are set.
    def _ready(self) -> None:
        self._owned = self._build()
        weakref.finalize(self, self._owned.close)

    @property
    def name(self) -> str:
        """Step name."""
        return self._name

    @property
    def depends_on(self) -> List[str]:
        """Dependency step names."""
        return self._depends_on

    @property
    def ttl(self) -> Optional[timedelta]:
        """Cache TTL (a timedelta, or None)."""
        ttl = self._ttl
        return timedelta(seconds=ttl) if isinstance(ttl, (int, float)) else ttl

    def _build_request_headers(self, context: Context) -> Dict[str, str]:
        """The headers of the request; override to add some from the context (called before
        each request, through the library's request hook)."""
        return dict(self._request_headers)

    def _build_request_data(self, context: Context) -> Dict[str, Any]:
        """The data of the request (body, or query string with GET); override to add some
        from the context (called before each request, through the library's request hook)."""
        return dict(self._request_data)

    # -- building ---------------------------------------------------------------------

    def _new_builder(self) -> int:
        raise NotImplementedError

    def _json_body(self) -> bool:
        return False

    def _wants_request_hook(self) -> bool:
        cls = type(self)
        overridden = (
            cls._build_request_headers is not _LibraryFetcher._build_request_headers
            or cls._build_request_data is not _LibraryFetcher._build_request_data
        )
        structured = self._json_body() and any(not isinstance(v, str) for v in self._request_data.values())
        return overridden or structured

    def _build(self) -> _ffi.Owned:
        b = self._new_builder()
        if not b:
            raise InvalidArgumentError(f"fetcher {self._name!r}: name and URLs must be non-empty text")
        try:
            self._configure(b)
            set_ = _setter(b, self._name)
            set_("set_method", enc(_method_name(self._method)))
            for k, v in {**self._default_headers, **self._request_headers}.items():
                set_("add_request_header", enc(k), enc(str(v)))
            for k, v in self._request_data.items():
                # Structured JSON values are sent by the request hook as a whole body.
                if v is not None and (isinstance(v, str) or not self._json_body()):
                    set_("add_request_data", enc(k), enc(_form_value(v)))
            for k, v in self._query_params.items():
                set_("add_query_param", enc(k), enc(str(v)))
            ttl_ms = _ms(self._ttl, "ttl")
            if ttl_ms is not None:
                set_("set_ttl_ms", ttl_ms)
            set_("set_timeout_ms", _ms(self._timeout, "timeout"))
            set_("set_verify_tls", bool(self._verify_ssl))
            set_("set_retry", int(self._max_attempts), max(0, round(float(self._retry_delay) * 1000)))
            if self._ca_file is not None:
                set_("set_ca_file", enc(self._ca_file))
            for dep in self._depends_on:
                set_("add_dependency", enc(dep))
            me = weakref.ref(self)
            if self._wants_request_hook():
                set_("set_request_hook", _REQUEST_HOOK, _ffi.new_handle(me), _ffi.FREE_HANDLE)
            set_("set_error_hook", _ERROR_HOOK, _ffi.new_handle(me), _ffi.FREE_HANDLE)
        except BaseException:
            lib.tokenforge_fetcher_builder_free(b)
            raise
        out = c_void_p()
        err = c_void_p()
        errors.check(lib.tokenforge_fetcher_builder_build(b, byref(out), byref(err)), err)
        return _ffi.Owned(out.value, lib.tokenforge_fetcher_free)

    def _configure(self, b: int) -> None:
        """Sets the options of the concrete kind on builder ``b``."""

    def _owned_fetcher(self) -> _ffi.Owned:
        with self._build_lock:
            if self._owned is None or self._owned.closed:
                self._ready()
            assert self._owned is not None
            return self._owned

    def _tokenforge_fetcher(self) -> int:
        if type(self).fetch is not _LibraryFetcher.fetch:
            return super()._tokenforge_fetcher()  # a Python fetch: a custom step calling it
        owned = self._owned_fetcher()
        ptr = owned.acquire()
        if ptr is None:
            raise InvalidArgumentError(f"the fetcher of step {self._name!r} is closed")
        owned.release()
        return ptr

    # -- use --------------------------------------------------------------------------

    def fetch(self, context: Context = None) -> TokenData:
        """Fetches a token (blocking for at most the timeout, retries included).

        Args:
            context: the tokens of earlier steps by step name; each declared dependency must
                be in it.

        Raises:
            AuthenticationException: a subclass for each kind of failure
                (:class:`OAuthError`, :class:`HTTPStatusError`, :class:`ResponseError`,
                :class:`TransportError`, :class:`RequestTimeoutError`,
                :class:`DependencyError`...); an exception raised by a
                ``_build_request_*`` override is raised as it is.
        """
        owned = self._owned_fetcher()
        ptr = owned.acquire()
        if ptr is None:  # closed by another thread just now: build again
            return self.fetch(context)
        try:
            with _CContext(context) as ctx:
                out = c_void_p()
                err = c_void_p()
                rc = lib.tokenforge_fetcher_fetch(ptr, ctx, byref(out), byref(err))
        finally:
            owned.release()
        errors.check(rc, err)
        return TokenData._from_c(out.value)

    def close(self) -> None:
        """Releases the library fetcher (pipelines using it keep theirs). Idempotent; a later
        ``fetch`` builds it again, as the reference's fetchers reopen their HTTP client."""
        with self._build_lock:
            if self._owned is not None:
                self._owned.close()

    def __enter__(self) -> "_LibraryFetcher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, base_url={self._base_url!r})"

    # -- the request hook ---------------------------------------------------------------

    def _shape_request(self, req: int, context: Context) -> None:
        """Applies the ``_build_request_*`` results to the request ``req`` (in a hook)."""
        headers = self._build_request_headers(context)
        base_headers = {**self._default_headers, **self._request_headers}
        wanted = {k.lower() for k in headers}
        for k in base_headers:
            if k.lower() not in wanted:
                _check_req(lib.tokenforge_request_remove_header(req, enc(k)), f"remove header {k!r}")
        for k, v in headers.items():
            if base_headers.get(k) != v:
                _check_req(lib.tokenforge_request_set_header(req, enc(k), enc(str(v))), f"header {k!r}")
        data = self._build_request_data(context)
        is_get = dec(lib.tokenforge_request_method(req)) == "GET"
        if self._json_body() and not is_get and any(not isinstance(v, str) for v in data.values()):
            body = json.dumps(data).encode()
            _check_req(lib.tokenforge_request_set_body(req, body, len(body), b"application/json"), "JSON body")
            return
        for k in self._request_data:
            if k not in data or data[k] is None:
                _check_req(lib.tokenforge_request_remove_data(req, enc(k)), f"remove data {k!r}")
        for k, v in data.items():
            if v is not None and self._request_data.get(k) != v:
                _check_req(lib.tokenforge_request_set_data(req, enc(k), enc(_form_value(v))), f"data {k!r}")


def _form_value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list, bool)) else str(v)


def _check_req(rc: int, what: str) -> None:
    if rc != _ffi.OK:
        raise InvalidArgumentError(f"request hook: the library refused {what} (bad name or value)")


def _setter(b: int, step: str) -> Any:
    def set_(option: str, *args: Any) -> None:
        rc = getattr(lib, "tokenforge_fetcher_builder_" + option)(b, *args)
        if rc != _ffi.OK:
            raise errors.class_for(rc)(f"fetcher {step!r}: bad value for {option.split('_', 1)[1]}", service_name=step,
                                       code=rc)
    return set_


@_ffi.REQUEST_HOOK
def _REQUEST_HOOK(userdata: Optional[int], ctx: Optional[int], req: Optional[int]) -> int:
    try:
        ref = _ffi.handle_value(userdata)
        fetcher = ref() if ref is not None else None
        if fetcher is None:
            raise CallbackError("the Python fetcher of this step was garbage collected")
        fetcher._shape_request(req, _context_for(ctx, fetcher.depends_on))
        return _ffi.OK
    except BaseException as exc:  # noqa: BLE001 - reaches the caller as itself
        err, code = errors.to_c(exc, _ffi.CALLBACK)
        lib.tokenforge_request_fail_error(req, err or None)
        return code


@_ffi.ERROR_HOOK
def _ERROR_HOOK(userdata: Optional[int], error: Optional[int], ctx: Optional[int]) -> None:
    try:
        ref = _ffi.handle_value(userdata)
        fetcher = ref() if ref is not None else None
        if fetcher is None or not error:
            return
        exc = errors.from_c(lib.tokenforge_error_code(error), error, owned=False)
        _report(fetcher, exc, _context_for(ctx, fetcher.depends_on))
    except BaseException:  # noqa: BLE001 - never unwind into the library
        logger.exception("tokenforge error hook failed")


class HeaderTokenFetcher(_LibraryFetcher):
    """A fetcher that reads the token from a response header (matched case-insensitively;
    a ``"<token_type> "`` prefix is stripped), for APIs that answer with a header.

    Args (those of the reference, same defaults):
        name: step name.
        base_url: base URL of the API.
        endpoint: token endpoint path.
        method: ``"GET"`` or ``"POST"``; with GET, ``request_data`` goes into the query
            string.
        request_headers: headers to send (values may hold ``{{step.field}}`` templates).
        request_data: data to send (form body, or query string with GET).
        token_header: response header holding the token.
        token_type: type given to the token.
        ttl: lifetime of the token (timedelta or seconds).
        timeout: deadline of the whole fetch in seconds, retries included.
        verify_ssl: whether to verify TLS certificates.
        depends_on: names of the steps this one needs.

    Keyword-only extensions: ``query_params``, ``max_attempts`` (3; retries on connect
    failures, 408, 429 and 5xx, honouring Retry-After), ``retry_delay`` (0.2 s, doubled each
    retry), ``ca_file`` (a PEM file of CAs to trust instead of the system's).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        endpoint: str,
        method: Any = "POST",
        request_headers: Optional[Dict[str, str]] = None,
        request_data: Optional[Dict[str, Any]] = None,
        token_header: str = "Authorization",
        token_type: str = "Bearer",
        ttl: TTL = None,
        timeout: float = 30.0,
        verify_ssl: bool = True,
        depends_on: Optional[List[str]] = None,
        *,
        query_params: Optional[Dict[str, str]] = None,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
        ca_file: Optional[str] = None,
    ) -> None:
        super().__init__(name, base_url, method, request_headers, request_data, ttl, timeout, verify_ssl, depends_on,
                         query_params, max_attempts, retry_delay, ca_file)
        self._endpoint = endpoint
        self._token_header = token_header
        self._token_type = token_type
        self._ready()

    def _new_builder(self) -> int:
        return lib.tokenforge_fetcher_builder_new_header(enc(self._name), enc(self._base_url), enc(self._endpoint))

    def _configure(self, b: int) -> None:
        set_ = _setter(b, self._name)
        set_("set_token_header", enc(self._token_header))
        set_("set_token_type", enc(self._token_type))


class BodyTokenFetcher(_LibraryFetcher):
    """A fetcher that reads the token from the JSON body of the answer (standard OAuth2 and
    similar endpoints).

    Args (those of the reference, same defaults):
        name, base_url, endpoint, method, request_headers, request_data: as for
            :class:`HeaderTokenFetcher`.
        content_type: ``"form"`` (``application/x-www-form-urlencoded``) or ``"json"``.
        token_field: field holding the access token (a dotted path reaches nested objects:
            ``"data.auth.token"``).
        token_type_field: field holding the token type.
        expires_in_field: field holding the lifetime in seconds (integer, float or numeric
            string).
        refresh_token_field: field holding the refresh token.
        default_token_type: type used when the answer gives none.
        ttl, timeout, verify_ssl, depends_on: as for :class:`HeaderTokenFetcher`.

    Keyword-only extensions: those of :class:`HeaderTokenFetcher`.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        endpoint: str,
        method: Any = "POST",
        request_headers: Optional[Dict[str, str]] = None,
        request_data: Optional[Dict[str, Any]] = None,
        content_type: str = "form",
        token_field: str = "access_token",
        token_type_field: str = "token_type",
        expires_in_field: str = "expires_in",
        refresh_token_field: str = "refresh_token",
        default_token_type: str = "Bearer",
        ttl: TTL = None,
        timeout: float = 30.0,
        verify_ssl: bool = True,
        depends_on: Optional[List[str]] = None,
        *,
        query_params: Optional[Dict[str, str]] = None,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
        ca_file: Optional[str] = None,
    ) -> None:
        if content_type not in ("form", "json"):
            raise InvalidArgumentError(f"content_type must be 'form' or 'json', not {content_type!r}")
        super().__init__(name, base_url, method, request_headers, request_data, ttl, timeout, verify_ssl, depends_on,
                         query_params, max_attempts, retry_delay, ca_file)
        self._endpoint = endpoint
        self._content_type = content_type
        self._token_field = token_field
        self._token_type_field = token_type_field
        self._expires_in_field = expires_in_field
        self._refresh_token_field = refresh_token_field
        self._default_token_type = default_token_type
        self._ready()

    def _json_body(self) -> bool:
        return self._content_type == "json"

    def _new_builder(self) -> int:
        return lib.tokenforge_fetcher_builder_new_body(enc(self._name), enc(self._base_url), enc(self._endpoint))

    def _configure(self, b: int) -> None:
        set_ = _setter(b, self._name)
        set_("set_content_type", _ffi.CONTENT_TYPE_JSON if self._json_body() else _ffi.CONTENT_TYPE_FORM)
        set_("set_token_field", enc(self._token_field))
        set_("set_token_type_field", enc(self._token_type_field))
        set_("set_expires_in_field", enc(self._expires_in_field))
        set_("set_refresh_token_field", enc(self._refresh_token_field))
        set_("set_default_token_type", enc(self._default_token_type))


class ClientCredentialsTokenFetcher(_LibraryFetcher):
    """The OAuth2 client_credentials grant: POSTs ``grant_type=client_credentials`` (and
    ``scope``) to ``token_url``, the client authenticating by HTTP Basic, or by body
    parameters with ``client_auth="body"``. The secret never appears in a message.

    Args:
        name: step name.
        token_url: the token endpoint.
        client_id, client_secret: the client's credentials.
        scope: the scope to ask for, or None.
        client_auth: ``"basic"`` (default) or ``"body"``.
        request_headers, request_data, ttl, timeout, verify_ssl, depends_on: as for
            :class:`BodyTokenFetcher` (the method is always POST).
    """

    def __init__(
        self,
        name: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: Optional[str] = None,
        *,
        client_auth: str = "basic",
        request_headers: Optional[Dict[str, str]] = None,
        request_data: Optional[Dict[str, Any]] = None,
        ttl: TTL = None,
        timeout: float = 30.0,
        verify_ssl: bool = True,
        depends_on: Optional[List[str]] = None,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
        ca_file: Optional[str] = None,
    ) -> None:
        if client_auth not in ("basic", "body"):
            raise InvalidArgumentError(f"client_auth must be 'basic' or 'body', not {client_auth!r}")
        super().__init__(name, token_url, "POST", request_headers, request_data, ttl, timeout, verify_ssl, depends_on,
                         None, max_attempts, retry_delay, ca_file)
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._client_auth = client_auth
        self._ready()

    def _new_builder(self) -> int:
        return lib.tokenforge_fetcher_builder_new_client_credentials(
            enc(self._name), enc(self._base_url), enc(self._client_id), enc(self._client_secret), enc(self._scope)
        )

    def _configure(self, b: int) -> None:
        _setter(b, self._name)("set_client_auth_in_body", self._client_auth == "body")

    def __repr__(self) -> str:
        return f"ClientCredentialsTokenFetcher(name={self._name!r}, token_url={self._base_url!r}, client_id={self._client_id!r})"


def iter_steps(steps: Sequence[TokenFetcherInterface]) -> Iterator[TokenFetcherInterface]:
    """The steps, checked to be fetchers."""
    for step in steps:
        if not isinstance(step, TokenFetcherInterface):
            raise TypeError(f"a step must be a TokenFetcherInterface, not {type(step).__name__}")
        yield step
