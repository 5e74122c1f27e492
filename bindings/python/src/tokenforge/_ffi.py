"""The C ABI of libtokenforge through ctypes: loading, prototypes, callback types, and the
registry that turns Python objects into the integers the library carries as userdata.

Nothing here decides behaviour; the rest of the package builds the reference designs' API on
these declarations. Every function of ``include/tokenforge.h`` that the package uses is
declared with its argument and result types, so that ctypes never guesses (a guessed ``int``
result would truncate a pointer).

The library is loaded by the path of the file packaged beside this module
(``_native/libtokenforge.so``, copied from ``target/release`` when the wheel is built), or by the
path in the environment variable ``TOKENFORGE_LIBRARY``. Loading by path does not depend on the
loader's search directories or on the SONAME (``libtokenforge.so.0``).

ctypes releases the GIL for the duration of each call, so other Python threads run while a
fetch waits for the network; callbacks take the GIL back when the library calls them, from
whichever thread (the caller's, or a library thread).
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import threading
import time
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any, Dict, Optional

# Result codes (tokenforge_result); the numbers are stable.
OK = 0
INVALID_ARGUMENT = 1
CONFIG = 2
TRANSPORT = 3
TIMEOUT = 4
HTTP_STATUS = 5
OAUTH = 6
RESPONSE = 7
DEPENDENCY = 8
CALLBACK = 9
STORAGE = 10
TLS = 11
PANIC = 99

NO_EXPIRY = -1
CONTENT_TYPE_FORM = 0
CONTENT_TYPE_JSON = 1


def library_path() -> Path:
    """The shared library this package loads: ``$TOKENFORGE_LIBRARY`` when set, else the
    file packaged in the wheel."""
    override = os.environ.get("TOKENFORGE_LIBRARY")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "_native" / "libtokenforge.so"


def _load() -> ctypes.CDLL:
    path = library_path()
    if not path.is_file():
        raise ImportError(
            f"tokenforge: the shared library {path} is missing; install the wheel built by "
            "bindings/python (it carries libtokenforge.so), or set TOKENFORGE_LIBRARY to its path"
        )
    return ctypes.CDLL(str(path))


lib = _load()

# Opaque handles are plain addresses (c_void_p); NULL is None.
P = c_void_p
PP = POINTER(c_void_p)
Result = c_int

FREE_USERDATA = CFUNCTYPE(None, c_void_p)
FETCH_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_void_p, PP, PP)
REQUEST_HOOK = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p)
ERROR_HOOK = CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)
STORE_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p, PP)
RETRIEVE_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_char_p, PP, PP)
DELETE_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_char_p, PP)


class StorageCallbacks(Structure):
    """``tokenforge_storage_callbacks`` without the optional lease callbacks (``struct_size``
    ends before them: single-flight then stays within each process)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("store_token", STORE_CALLBACK),
        ("retrieve_token", RETRIEVE_CALLBACK),
        ("delete_token", DELETE_CALLBACK),
    ]


def _declare(name: str, restype: Any, *argtypes: Any) -> None:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


for _name, _res, _args in [
    # version, results, strings
    ("tokenforge_version", c_char_p, ()),
    ("tokenforge_result_name", c_char_p, (c_int,)),
    # errors
    ("tokenforge_error_new", P, (c_int, c_char_p)),
    ("tokenforge_error_code", c_int, (P,)),
    ("tokenforge_error_message", c_char_p, (P,)),
    ("tokenforge_error_http_status", c_int32, (P,)),
    ("tokenforge_error_step", c_char_p, (P,)),
    ("tokenforge_error_field", c_char_p, (P,)),
    ("tokenforge_error_oauth_error", c_char_p, (P,)),
    ("tokenforge_error_oauth_description", c_char_p, (P,)),
    ("tokenforge_error_retry_after_ms", c_int64, (P,)),
    ("tokenforge_error_is_retryable", c_bool, (P,)),
    ("tokenforge_error_free", None, (P,)),
    ("tokenforge_error_set_cause", c_int, (P, c_void_p, FREE_USERDATA)),
    ("tokenforge_error_cause", c_void_p, (P,)),
    # tokens
    ("tokenforge_token_new", P, (c_char_p, c_char_p, c_int64, c_char_p)),
    ("tokenforge_token_clone", P, (P,)),
    ("tokenforge_token_with_extra", P, (P, c_char_p, c_char_p)),
    ("tokenforge_token_free", None, (P,)),
    ("tokenforge_token_access_token", c_char_p, (P,)),
    ("tokenforge_token_token_type", c_char_p, (P,)),
    ("tokenforge_token_refresh_token", c_char_p, (P,)),
    ("tokenforge_token_scope", c_char_p, (P,)),
    ("tokenforge_token_expires_at_ms", c_int64, (P,)),
    ("tokenforge_token_authorization", c_char_p, (P,)),
    ("tokenforge_token_extra", c_char_p, (P, c_char_p)),
    ("tokenforge_token_extra_count", c_size_t, (P,)),
    ("tokenforge_token_extra_name", c_char_p, (P, c_size_t)),
    # contexts
    ("tokenforge_context_new", P, ()),
    ("tokenforge_context_set", c_int, (P, c_char_p, P, PP)),
    ("tokenforge_context_get", P, (P, c_char_p)),
    ("tokenforge_context_len", c_size_t, (P,)),
    ("tokenforge_context_free", None, (P,)),
    # fetcher builders
    ("tokenforge_fetcher_builder_new_body", P, (c_char_p, c_char_p, c_char_p)),
    ("tokenforge_fetcher_builder_new_header", P, (c_char_p, c_char_p, c_char_p)),
    ("tokenforge_fetcher_builder_new_client_credentials", P, (c_char_p, c_char_p, c_char_p, c_char_p, c_char_p)),
    ("tokenforge_fetcher_builder_set_method", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_add_request_header", c_int, (P, c_char_p, c_char_p)),
    ("tokenforge_fetcher_builder_add_request_data", c_int, (P, c_char_p, c_char_p)),
    ("tokenforge_fetcher_builder_add_query_param", c_int, (P, c_char_p, c_char_p)),
    ("tokenforge_fetcher_builder_set_content_type", c_int, (P, c_int)),
    ("tokenforge_fetcher_builder_set_token_field", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_set_token_type_field", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_set_expires_in_field", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_set_refresh_token_field", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_set_default_token_type", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_set_token_header", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_set_token_type", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_set_basic_auth", c_int, (P, c_char_p, c_char_p)),
    ("tokenforge_fetcher_builder_set_client_auth_in_body", c_int, (P, c_bool)),
    ("tokenforge_fetcher_builder_set_ca_file", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_set_ttl_ms", c_int, (P, c_int64)),
    ("tokenforge_fetcher_builder_set_timeout_ms", c_int, (P, c_uint64)),
    ("tokenforge_fetcher_builder_set_verify_tls", c_int, (P, c_bool)),
    ("tokenforge_fetcher_builder_set_retry", c_int, (P, c_uint32, c_uint64)),
    ("tokenforge_fetcher_builder_add_dependency", c_int, (P, c_char_p)),
    ("tokenforge_fetcher_builder_set_refresh_endpoint", c_int, (P, c_char_p, c_char_p, c_char_p)),
    ("tokenforge_fetcher_builder_set_request_hook", c_int, (P, REQUEST_HOOK, c_void_p, FREE_USERDATA)),
    ("tokenforge_fetcher_builder_set_error_hook", c_int, (P, ERROR_HOOK, c_void_p, FREE_USERDATA)),
    ("tokenforge_fetcher_builder_build", c_int, (P, PP, PP)),
    ("tokenforge_fetcher_builder_free", None, (P,)),
    # fetchers
    ("tokenforge_fetcher_new_custom", c_int,
     (c_char_p, POINTER(c_char_p), c_size_t, c_int64, FETCH_CALLBACK, c_void_p, FREE_USERDATA, PP, PP)),
    ("tokenforge_fetcher_fetch", c_int, (P, P, PP, PP)),
    ("tokenforge_fetcher_name", c_char_p, (P,)),
    ("tokenforge_fetcher_free", None, (P,)),
    # requests (inside a request hook)
    ("tokenforge_request_set_header", c_int, (P, c_char_p, c_char_p)),
    ("tokenforge_request_remove_header", c_int, (P, c_char_p)),
    ("tokenforge_request_set_data", c_int, (P, c_char_p, c_char_p)),
    ("tokenforge_request_remove_data", c_int, (P, c_char_p)),
    ("tokenforge_request_set_query", c_int, (P, c_char_p, c_char_p)),
    ("tokenforge_request_set_body", c_int, (P, c_char_p, c_size_t, c_char_p)),
    ("tokenforge_request_fail_error", c_int, (P, P)),
    ("tokenforge_request_method", c_char_p, (P,)),
    ("tokenforge_request_url", c_char_p, (P,)),
    ("tokenforge_request_header", c_char_p, (P, c_char_p)),
    ("tokenforge_request_data", c_char_p, (P, c_char_p)),
    # refresh
    ("tokenforge_oauth2_refresh", c_int, (c_char_p, c_char_p, c_char_p, c_char_p, c_uint64, PP, PP)),
    # pipelines
    ("tokenforge_pipeline_new", P, ()),
    ("tokenforge_pipeline_add", c_int, (P, P, PP)),
    ("tokenforge_pipeline_add_live", c_int, (P, P, PP)),
    ("tokenforge_pipeline_remove", c_int, (P, c_char_p, PP)),
    ("tokenforge_pipeline_validate", c_int, (P, PP)),
    ("tokenforge_pipeline_set_storage", c_int, (P, P, c_char_p, PP)),
    ("tokenforge_pipeline_set_refresh_margin_ms", c_int, (P, c_int64, PP)),
    ("tokenforge_pipeline_set_background_refresh", c_int, (P, c_bool, PP)),
    ("tokenforge_pipeline_get_cacheable", c_int, (P, c_char_p, PP, POINTER(c_uint64), POINTER(c_int64), PP)),
    ("tokenforge_pipeline_step_changes", c_int, (P, c_char_p, POINTER(c_void_p), PP)),
    ("tokenforge_pipeline_invalidate", c_int, (P, c_char_p, PP)),
    ("tokenforge_pipeline_invalidate_if", c_int, (P, c_char_p, c_char_p, POINTER(c_bool), PP)),
    ("tokenforge_pipeline_from_json", c_int, (c_char_p, PP, PP)),
    ("tokenforge_pipeline_free", None, (P,)),
    # storage
    ("tokenforge_storage_new_memory", P, ()),
    ("tokenforge_storage_new_file", c_int, (c_char_p, PP, PP)),
    ("tokenforge_storage_new_redis", c_int, (c_char_p, PP, PP)),
    ("tokenforge_storage_new_custom", c_int, (POINTER(StorageCallbacks), c_void_p, FREE_USERDATA, PP, PP)),
    ("tokenforge_storage_store", c_int, (P, c_char_p, P, PP)),
    ("tokenforge_storage_retrieve", c_int, (P, c_char_p, PP, PP)),
    ("tokenforge_storage_delete", c_int, (P, c_char_p, PP)),
    ("tokenforge_storage_free", None, (P,)),
]:
    _declare(_name, _res, *_args)


# ---------------------------------------------------------------------------------------
# Handles: the userdata the library carries for a Python callback is an integer key into
# this table, never a Python pointer, so that the library owning it cannot keep a dead
# object alive or reach a freed one. Keys are never reused. The library releases each key
# exactly once through FREE_HANDLE (possibly on one of its threads).

_handles: Dict[int, Any] = {}
_next_handle = itertools.count(1)


def new_handle(value: Any) -> int:
    """Registers ``value`` and returns its key, to hand to the library with FREE_HANDLE."""
    key = next(_next_handle)
    _handles[key] = value
    return key


def handle_value(key: Optional[int]) -> Any:
    """The value registered under ``key``; None when there is none."""
    return _handles.get(key or 0)


def live_handles() -> int:
    """How many userdata keys the library holds now (for leak checks)."""
    return len(_handles)


@FREE_USERDATA
def _free_handle(key: Optional[int]) -> None:
    _handles.pop(key or 0, None)


FREE_HANDLE = _free_handle


# ---------------------------------------------------------------------------------------
# Causes: a Python exception travels through the library as the cause of a C error
# (tokenforge_error_set_cause), whichever thread raised it. The cause is the address of a
# one-byte buffer that this table keeps alive: an address no other cause in the process can
# have while it lives, so a cause attached by another binding is never mistaken for ours.


class CauseRecord:
    """A Python exception attached to a C error, with the code the error was made with."""

    __slots__ = ("exception", "code", "buffer")

    def __init__(self, exception: BaseException, code: int, buffer: Any) -> None:
        self.exception = exception
        self.code = code
        self.buffer = buffer


_causes: Dict[int, CauseRecord] = {}
_causes_lock = threading.Lock()


@FREE_USERDATA
def _free_cause(key: Optional[int]) -> None:
    with _causes_lock:
        _causes.pop(key or 0, None)


def attach_cause(err: int, exception: BaseException, code: int) -> None:
    """Makes ``exception`` travel with the C error ``err`` (owned by the caller)."""
    buffer = ctypes.create_string_buffer(1)
    key = ctypes.addressof(buffer)
    with _causes_lock:
        _causes[key] = CauseRecord(exception, code, buffer)
    # On failure the library calls _free_cause at once.
    lib.tokenforge_error_set_cause(err, key, _free_cause)


def cause_of(err: int) -> Optional[CauseRecord]:
    """The Python exception record the C error ``err`` carries; None when it carries none of
    ours."""
    key = lib.tokenforge_error_cause(err)
    if not key:
        return None
    with _causes_lock:
        return _causes.get(key)


def live_causes() -> int:
    """How many Python exceptions the library's errors hold now (for leak checks)."""
    with _causes_lock:
        return len(_causes)


def enc(s: Optional[str]) -> Optional[bytes]:
    """A str as the UTF-8 bytes ctypes passes as ``const char *``; None stays NULL."""
    if s is None:
        return None
    if "\x00" in s:
        raise ValueError("strings passed to tokenforge must not contain NUL")
    return s.encode("utf-8")


def dec(b: Optional[bytes]) -> Optional[str]:
    """A borrowed ``const char *`` result as str; NULL is None."""
    return None if b is None else b.decode("utf-8", "replace")


def counter_at(address: Optional[int]) -> c_uint64:
    """A view of the library's change counter at ``address`` (readable for the life of the
    process). Reading ``.value`` is one aligned 8-byte load."""
    assert address, "the library gave no counter address"
    return c_uint64.from_address(address)


__all__ = ["lib", "new_handle", "handle_value", "attach_cause", "cause_of", "enc", "dec"]


class Owned:
    """One C object owned by a Python object: ``acquire`` hands out the pointer and holds the
    object alive until ``release``, so that ``close`` on one thread never frees it under a
    call running on another (it is freed when the last call ends). Pair it with
    ``weakref.finalize(owner, Owned.close)`` so that an owner never closed is freed when it
    is garbage collected (the Owned holds no reference to its owner)."""

    __slots__ = ("_ptr", "_free", "_users", "_closing", "_lock")

    def __init__(self, ptr: Optional[int], free: Any) -> None:
        self._ptr: Optional[int] = ptr
        self._free = free
        self._users = 0
        self._closing = False
        self._lock = threading.Lock()
        _live.add(self)

    def acquire(self) -> Optional[int]:
        """The pointer, held until ``release``; None once closed."""
        with self._lock:
            if self._ptr is None or self._closing:
                return None
            self._users += 1
            return self._ptr

    def release(self) -> None:
        """Ends a call that ``acquire`` began."""
        with self._lock:
            self._users -= 1
            ptr = self._ptr if self._closing and self._users == 0 else None
            if ptr is not None:
                self._ptr = None
        if ptr is not None:
            _live.discard(self)
            self._free(ptr)

    def close(self) -> None:
        """Frees the object now, or when the calls under way end. Idempotent."""
        with self._lock:
            if self._ptr is None or self._closing:
                return
            self._closing = True
            ptr = self._ptr if self._users == 0 else None
            if ptr is not None:
                self._ptr = None
        if ptr is not None:
            _live.discard(self)
            self._free(ptr)

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closing


# Every library object a Python object owns, until it is freed.
_live: "set[Owned]" = set()

#: How long the interpreter's exit waits for the library to release the last Python
#: callback (a renewal running in the background ends within its fetch deadline).
EXIT_WAIT_SECONDS = 30.0


def _drain_at_exit() -> None:
    """At exit, before the interpreter finalises: frees every library object Python owns,
    then waits until the library has released every Python callback and cause (it does so
    after their last call). A library thread that called into Python once the interpreter is
    finalising would be stopped there by CPython (pthread_exit through Rust frames: an
    abort), so no callback may remain possible by then."""
    for owned in list(_live):
        owned.close()
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    while (_handles or _causes) and time.monotonic() < deadline:
        time.sleep(0.005)


atexit.register(_drain_at_exit)
