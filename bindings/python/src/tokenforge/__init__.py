"""tokenforge for Python: the API of the reference designs (requestforge's token fetchers and
pipelines, apiconfig's token refresh and storage) over libtokenforge's C ABI, through ctypes.

Replace ``from requestforge.fetcher import BodyTokenFetcher`` (or
``from apiconfig.auth.token import refresh_oauth2_token``) by ``from tokenforge import ...``;
the classes keep their constructor arguments and defaults, and gain single-flight across
threads and processes, refresh ahead of expiry, stale-while-revalidate, retries with
Retry-After, shared stores and messages without secrets.
"""

from __future__ import annotations

from . import _ffi
from .errors import (
    AuthenticationException,
    CallbackError,
    ConfigError,
    DependencyError,
    HTTPStatusError,
    InvalidArgumentError,
    OAuthError,
    PanicError,
    RequestTimeoutError,
    ResponseError,
    StorageError,
    TLSError,
    TokenforgeError,
    TokenRefreshError,
    TokenRefreshHTTPError,
    TokenRefreshJsonError,
    TokenRefreshNetworkError,
    TokenRefreshOAuthError,
    TokenRefreshTimeoutError,
    TokenRefreshTLSError,
    TransportError,
)
from .fetcher import (
    BodyTokenFetcher,
    ClientCredentialsTokenFetcher,
    HeaderTokenFetcher,
    HttpMethod,
    HttpResponse,
    HttpTokenFetcher,
    TokenFetcherInterface,
)
from .events import EVENT_KINDS, PipelineEvent, log_to_logging, set_log_callback
from .pipelines import TokenFetchPipeline
from .refresh import refresh_oauth2_token
from .storage import FileTokenStorage, InMemoryTokenStorage, RedisTokenStorage, TokenStorage
from .token import TokenData, TokenExtra

def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tokenforge")
    except metadata.PackageNotFoundError:  # run from the source tree
        return _ffi.dec(_ffi.lib.tokenforge_version()) or ""


#: The version of this package (the same as the library's it was built with).
__version__ = _version()


def library_version() -> str:
    """The version of the loaded libtokenforge, ``"MAJOR.MINOR.PATCH"``."""
    return _ffi.dec(_ffi.lib.tokenforge_version()) or ""


def library_path() -> str:
    """The path of the loaded libtokenforge."""
    return str(_ffi.library_path())


__all__ = [
    "AuthenticationException", "BodyTokenFetcher", "CallbackError", "ClientCredentialsTokenFetcher", "ConfigError",
    "DependencyError", "EVENT_KINDS", "FileTokenStorage", "HTTPStatusError", "HeaderTokenFetcher", "HttpMethod", "HttpResponse",
    "HttpTokenFetcher", "InMemoryTokenStorage", "InvalidArgumentError", "OAuthError", "PanicError", "PipelineEvent",
    "RedisTokenStorage", "RequestTimeoutError", "ResponseError", "StorageError", "TLSError", "TokenData",
    "TokenExtra", "TokenFetchPipeline", "TokenFetcherInterface", "TokenRefreshError", "TokenRefreshHTTPError",
    "TokenRefreshJsonError", "TokenRefreshNetworkError", "TokenRefreshOAuthError", "TokenRefreshTLSError",
    "TokenRefreshTimeoutError", "TokenStorage", "TokenforgeError", "TransportError", "library_path",
    "library_version", "log_to_logging", "refresh_oauth2_token", "set_log_callback", "__version__",
]
