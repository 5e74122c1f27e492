"""What the library reports: a pipeline's events (``TokenFetchPipeline(on_event=...)``) and
its log lines (:func:`set_log_callback`, :func:`log_to_logging`).

Both are called synchronously on the thread where the thing happened: a caller's thread, or
a library thread for parallel dependency fetches and background renewals. They must be
quick, and must not call back into the pipeline. An exception they raise is logged on the
``tokenforge`` logger and otherwise ignored: nothing waits for them to return a result.
Neither ever carries a secret.
"""

from __future__ import annotations

import atexit
import logging
import threading
from ctypes import CFUNCTYPE, POINTER, Structure, byref, c_bool, c_char_p, c_int, c_int64, c_uint32, c_void_p
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Optional

from . import _ffi, errors
from ._ffi import lib
from .errors import InvalidArgumentError
from .token import ms_to_datetime

__all__ = ["PipelineEvent", "EVENT_KINDS", "set_log_callback", "log_to_logging"]

logger = logging.getLogger("tokenforge")

#: The kinds of :class:`PipelineEvent`, by the library's number (``tokenforge_event_kind``).
EVENT_KINDS = (
    "cache_hit",  # a fresh cached token was returned
    "fetch_started",  # an upstream fetch (or refresh grant) began
    "fetch_succeeded",  # a fetch gave a new token; duration is how long it took
    "fetch_failed",  # a fetch failed after its retries; error says why
    "refreshed",  # a refresh grant gave a new token
    "retry",  # a failed attempt is retried; duration is the wait, attempt the next number
    "invalidated",  # the step's token was dropped
    "stale_served",  # renewal failed and the still-valid token was served; error says why
    "loaded_from_storage",  # the token came from the storage (another process fetched it)
    "storage_failed",  # the storage failed; error says why
)


@dataclass(frozen=True)
class PipelineEvent:
    """One thing that happened in a pipeline.

    Attributes:
        kind: one of :data:`EVENT_KINDS` (``"fetch_succeeded"``, ``"retry"``, ...).
        step: the step concerned.
        duration: fetch and refresh events: how long it took; retry events: the wait before
            the retry; zero otherwise.
        expires_at: expiry of the token concerned (aware UTC), None when unknown.
        attempt: retry events: the number of the attempt about to start (2 for the first
            retry); 0 otherwise.
        error: failure, stale-served and storage events: the error; None otherwise.
        background: True for the events of a renewal no caller waits for.
    """

    kind: str
    step: str
    duration: timedelta
    expires_at: Optional[datetime]
    attempt: int
    error: Optional[BaseException]
    background: bool


class _CEvent(Structure):
    _fields_ = [
        ("kind", c_int),
        ("step", c_char_p),
        ("duration_us", c_int64),
        ("expires_at_ms", c_int64),
        ("attempt", c_uint32),
        ("error", c_void_p),
        ("background", c_bool),
    ]


EVENT_HOOK = CFUNCTYPE(None, c_void_p, POINTER(_CEvent))
LOG_CALLBACK = CFUNCTYPE(None, c_void_p, c_int, c_char_p)
_ffi._declare("tokenforge_pipeline_set_event_hook", c_int, c_void_p, EVENT_HOOK, c_void_p, _ffi.FREE_USERDATA, _ffi.PP)
_ffi._declare("tokenforge_set_log_callback", c_int, c_int, LOG_CALLBACK, c_void_p, _ffi.FREE_USERDATA)


def _event_from_c(event: _CEvent) -> PipelineEvent:
    kind = EVENT_KINDS[event.kind] if 0 <= event.kind < len(EVENT_KINDS) else f"unknown({event.kind})"
    error = None
    if event.error:
        error = errors.from_c(lib.tokenforge_error_code(event.error), event.error, owned=False)
    return PipelineEvent(
        kind=kind,
        step=_ffi.dec(event.step) or "",
        duration=timedelta(microseconds=max(event.duration_us, 0)),
        expires_at=ms_to_datetime(event.expires_at_ms),
        attempt=event.attempt,
        error=error,
        background=bool(event.background),
    )


@EVENT_HOOK
def _EVENT_HOOK(userdata: Optional[int], event: Any) -> None:  # event: POINTER(_CEvent)
    try:
        ref = _ffi.handle_value(userdata)
        pipeline = ref() if ref is not None else None
        callback = getattr(pipeline, "_on_event", None)
        if callback is not None and event:
            callback(_event_from_c(event.contents))
    except BaseException:  # noqa: BLE001 - never unwind into the library
        logger.exception("tokenforge event hook failed")


def install_event_hook(ptr: int, pipeline_ref: "Callable[[], object]") -> None:
    """Makes the C pipeline ``ptr`` report its events to ``pipeline_ref()._on_event`` (a
    weak reference: the library holding it keeps no Python pipeline alive)."""
    err = c_void_p()
    rc = lib.tokenforge_pipeline_set_event_hook(ptr, _EVENT_HOOK, _ffi.new_handle(pipeline_ref), _ffi.FREE_HANDLE,
                                                byref(err))
    errors.check(rc, err)


# -- log lines ----------------------------------------------------------------------------

# The library's levels (tokenforge_log_level) and Python's.
_TO_PYTHON = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}
_log_lock = threading.Lock()


def _c_level(level: int) -> int:
    if not isinstance(level, int) or isinstance(level, bool):
        raise InvalidArgumentError(f"level must be a logging level (an int), not {type(level).__name__}")
    if level <= logging.DEBUG:
        return 4
    if level <= logging.INFO:
        return 3
    if level <= logging.WARNING:
        return 2
    return 1


@LOG_CALLBACK
def _LOG_CALLBACK(userdata: Optional[int], level: int, line: Optional[bytes]) -> None:
    try:
        callback = _ffi.handle_value(userdata)
        if callback is not None and line is not None:
            callback(_TO_PYTHON.get(level, logging.INFO), _ffi.dec(line))
    except BaseException:  # noqa: BLE001 - never unwind into the library
        logger.exception("tokenforge log callback failed")


def set_log_callback(callback: Optional[Callable[[int, str], None]], level: int = logging.INFO) -> None:
    """Sends the library's log lines of ``level`` (a :mod:`logging` level) and more severe
    ones to ``callback(level, line)``, ``level`` being the line's :mod:`logging` level. Lines
    look like ``warn step=app_token event=retry attempt=2 wait_ms=200`` and never hold a
    secret. ``None`` goes back to the ``TOKENFORGE_LOG`` environment variable (lines to
    stderr; unset: none). Process-wide, for every pipeline; thread-safe. A cache hit that
    the Python side answers (a fresh token it handed out already) never reaches the library
    and is not logged; a pipeline with ``on_event`` reports every one.

    Raises:
        InvalidArgumentError: ``level`` is not an int.
    """
    with _log_lock:
        if callback is None:
            lib.tokenforge_set_log_callback(0, LOG_CALLBACK(), None, _ffi.FREE_USERDATA())
            return
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        # The library owns the handle from here on, also when the call fails.
        rc = lib.tokenforge_set_log_callback(_c_level(level), _LOG_CALLBACK, _ffi.new_handle(callback),
                                             _ffi.FREE_HANDLE)
        if rc != _ffi.OK:
            raise errors.from_c(rc, None)


def log_to_logging(level: int = logging.INFO, logger: Optional[logging.Logger] = None) -> None:
    """Sends the library's log lines of ``level`` and more severe ones to ``logger`` (the
    ``tokenforge`` logger when None) at their own levels: the usual way to see them in a
    Python program. ``set_log_callback(None)`` stops it."""
    target = logger if logger is not None else logging.getLogger("tokenforge")
    set_log_callback(target.log, level)


# At exit the callback goes before _ffi drains the handles (atexit runs this first: it was
# registered later), so that no library thread logs into a finalising interpreter.
atexit.register(set_log_callback, None)
