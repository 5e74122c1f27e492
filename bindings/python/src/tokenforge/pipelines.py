"""``TokenFetchPipeline``: requestforge's multi-step pipeline (and token manager), run by the
library's pipeline.

Compared with the reference: steps may be listed in any order; each step's token is cached
until it is due for renewal, and renewed in the background while it is still valid (no
caller waits); concurrent callers of a step without a valid token share one fetch, across
threads, and across processes with a file or Redis store; independent dependencies are
fetched in parallel; failures are retried with backoff, honouring Retry-After; invalidation
cascades to the steps derived from the invalidated one.

``get(step)`` is thread-safe. A fresh token is handed out again from the Python side without
calling the library while the step's change counter (library memory, read in place) has not
moved and the token's fresh-until time has not passed, as the Go binding does.
"""

from __future__ import annotations

import threading
import time
from ctypes import byref, c_bool, c_int64, c_uint64, c_void_p
from datetime import timedelta
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union
import weakref

from . import _ffi, errors
from ._ffi import enc, lib
from .errors import InvalidArgumentError
from .events import PipelineEvent, install_event_hook
from .fetcher import TokenFetcherInterface, iter_steps
from .storage import TokenStorage
from .token import TokenData

__all__ = ["TokenFetchPipeline"]

_now = time.time

# A step's slot in the Python-side cache: the token, the change count it belongs to, until
# when (epoch seconds) it stays the step's answer, the step's change counter, and the step
# table generation (see _generation) it was made in.
_Slot = Tuple[TokenData, int, float, c_uint64, int]


class _NoCache(Dict[str, _Slot]):
    """The Python-side cache of a pipeline that reports events: keeps nothing."""

    def __setitem__(self, key: str, value: _Slot) -> None:
        pass


class TokenFetchPipeline:
    """Steps, their cached tokens and the rules to renew them.

    Args:
        steps: the fetchers, one per step (any order; dependencies are by name).
        storage: where tokens are also kept (shared with other pipelines and processes), or
            None for memory only.
        cache_key_prefix: prefix of the storage keys (``"<prefix>:<step>"``; empty:
            ``"tokenforge:<step>"``).
        validate_dependencies: check at once that every dependency is a step and that there
            is no cycle (:class:`ConfigError`, a ``ValueError``); otherwise the first ``get``
            does.
        refresh_margin: a token is renewed when less than this is left (timedelta or seconds;
            default 60 s, capped at half the token's lifetime).
        background_refresh: renew tokens due for renewal on a library thread while callers get
            the still-valid token (default); False renews on the caller's thread.
        on_event: called with a :class:`~tokenforge.events.PipelineEvent` for each cache hit,
            fetch, refresh, retry, invalidation, stale token served and storage event (see
            :mod:`tokenforge.events`); every ``get`` then goes through the library, so that
            each cache hit is reported.

    Raises:
        ConfigError: a duplicate step name, a missing dependency or a cycle.
    """

    def __init__(
        self,
        steps: Sequence[TokenFetcherInterface],
        storage: Optional[TokenStorage] = None,
        cache_key_prefix: str = "",
        validate_dependencies: bool = True,
        *,
        refresh_margin: Union[timedelta, float, None] = None,
        background_refresh: bool = True,
        on_event: Optional[Callable[[PipelineEvent], None]] = None,
    ) -> None:
        self._steps: List[TokenFetcherInterface] = list(iter_steps(steps))
        ptr = lib.tokenforge_pipeline_new()
        self._start(ptr, [], storage, cache_key_prefix, on_event)
        for step in self._steps:
            self._call(lib.tokenforge_pipeline_add, step._tokenforge_fetcher())
        if storage is not None:
            if not isinstance(storage, TokenStorage):
                raise TypeError(f"storage must be a TokenStorage, not {type(storage).__name__}")
            self._call(lib.tokenforge_pipeline_set_storage, storage._tokenforge_storage(), enc(cache_key_prefix or None))
        if refresh_margin is not None:
            seconds = refresh_margin.total_seconds() if isinstance(refresh_margin, timedelta) else float(refresh_margin)
            self._call(lib.tokenforge_pipeline_set_refresh_margin_ms, round(seconds * 1000))
        self._call(lib.tokenforge_pipeline_set_background_refresh, bool(background_refresh))
        if validate_dependencies:
            self._call(lib.tokenforge_pipeline_validate)

    @classmethod
    def from_json(cls, text: str, step_names: Sequence[str] = (), *,
                  on_event: Optional[Callable[[PipelineEvent], None]] = None) -> "TokenFetchPipeline":
        """A whole pipeline from its JSON description (the format of the project README:
        steps of kind ``body``, ``header`` or ``client_credentials`` with their options,
        dependencies, templates and refresh endpoints; ``${env:NAME}`` is replaced by that
        environment variable). ``step_names`` lists the steps for :meth:`execute`,
        :meth:`invalidate_all` and :attr:`step_names` (the library does not list them);
        ``on_event`` is as for the constructor.

        Raises:
            ConfigError: every problem of the text in one message; ``step`` and ``field``
                name the first one's.
        """
        out = c_void_p()
        err = c_void_p()
        errors.check(lib.tokenforge_pipeline_from_json(enc(text), byref(out), byref(err)), err)
        self = cls.__new__(cls)
        self._steps = []
        self._start(out.value, list(step_names), None, "", on_event)
        return self

    def _start(self, ptr: Optional[int], json_steps: List[str], storage: Optional[TokenStorage], prefix: str,
               on_event: Optional[Callable[[PipelineEvent], None]]) -> None:
        """The state both constructors share, owning the C pipeline ``ptr`` from here on."""
        self._json_steps = json_steps
        self._step_map = {step.name: step for step in self._steps}
        self._storage = storage
        self._cache_key_prefix = prefix
        self._fast: Dict[str, _Slot] = {}
        self._names: Dict[str, bytes] = {}
        self._counters: Dict[str, Tuple[int, c_uint64]] = {}
        self._edit_lock = threading.Lock()
        self._generation = 0
        self._owned = _ffi.Owned(ptr, lib.tokenforge_pipeline_free)
        weakref.finalize(self, self._owned.close)
        self._on_event = on_event
        if on_event is None:
            return
        if not callable(on_event):
            raise TypeError(f"on_event must be callable, not {type(on_event).__name__}")
        self._fast = _NoCache()  # every get through the library: each cache hit reported
        assert ptr is not None, "the library made no pipeline"
        install_event_hook(ptr, weakref.ref(self))

    def _call(self, fn: Any, *args: Any) -> None:
        errors.call_owned(self._owned, "the pipeline is closed", fn, *args)

    def _name(self, step: str) -> bytes:
        name = self._names.get(step)
        if name is None:
            if not isinstance(step, str):
                raise TypeError(f"step must be a str, not {type(step).__name__}")
            name = self._names[step] = enc(step)  # type: ignore[assignment]
        return name  # type: ignore[return-value]

    def _counter(self, ptr: int, step: str, generation: int) -> Optional[c_uint64]:
        """The change counter of ``step`` in step table ``generation``."""
        cached = self._counters.get(step)
        if cached is not None and cached[0] == generation:
            return cached[1]
        addr = c_void_p()
        if lib.tokenforge_pipeline_step_changes(ptr, self._name(step), byref(addr), None) != _ffi.OK:
            return None
        counter = _ffi.counter_at(addr.value)
        self._counters[step] = (generation, counter)
        return counter

    def get(self, step: str) -> TokenData:
        """The token of ``step``: the cached one while fresh; otherwise fetched (after its
        dependencies without a valid token), once for all concurrent callers. Thread-safe.

        Raises:
            InvalidArgumentError: an unknown step.
            AuthenticationException: the fetch failed (a subclass per kind of failure; a
                Python exception raised in a hook, custom fetcher or storage of the step as
                it is).
        """
        slot = self._fast.get(step)
        if slot is not None and slot[3].value == slot[1] and _now() < slot[2]:
            return slot[0]
        return self._get(step, slot)

    def _get(self, step: str, slot: Optional[_Slot]) -> TokenData:
        ptr = self._owned.acquire()
        if ptr is None:
            raise InvalidArgumentError("the pipeline is closed")
        try:
            # add_step and remove_step move the generation after changing the step table:
            # a get that saw it move meanwhile neither reuses nor caches, since the token
            # and the counter it holds may belong to a removed step of the same name.
            generation = self._generation
            out = c_void_p()
            err = c_void_p()
            changes = c_uint64()
            fresh_until = c_int64()
            rc = lib.tokenforge_pipeline_get_cacheable(ptr, self._name(step), byref(out), byref(changes),
                                                       byref(fresh_until), byref(err))
            if rc != _ffi.OK:
                raise errors.from_c(rc, err.value)
            same_table = slot is not None and slot[4] == generation == self._generation
            if same_table and slot is not None and slot[1] == changes.value:
                lib.tokenforge_token_free(out.value)  # the same token as the one we hold
                token = slot[0]
            else:
                token = TokenData._from_c(out.value)
            if fresh_until.value > 0:
                counter = self._counter(ptr, step, generation)
                if counter is not None and generation == self._generation:
                    self._fast[step] = (token, changes.value, fresh_until.value / 1000.0, counter, generation)
            return token
        finally:
            self._owned.release()

    def execute(self, force_refresh: bool = False) -> TokenData:
        """Gets every step's token, in the order given, and returns the last step's (the
        reference's ``execute``).

        Args:
            force_refresh: drop every cached token first, so that every step is fetched.
        """
        names = self.step_names
        if not names:
            raise InvalidArgumentError("the pipeline has no steps")
        if force_refresh:
            self.invalidate_all()
        token: Optional[TokenData] = None
        for name in names:
            token = self.get(name)
        assert token is not None
        return token

    def invalidate_step(self, step_name: str) -> None:
        """Drops the cached (and stored) token of ``step_name`` and of every step that
        depends on it, directly or not, so that the next get fetches them."""
        self._call(lib.tokenforge_pipeline_invalidate, self._name(step_name))

    def invalidate_if(self, step_name: str, access_token: str) -> bool:
        """As :meth:`invalidate_step`, but only while the cached token of ``step_name`` is
        still ``access_token``: after an API answered 401, many callers retrying cause one
        refetch. Returns whether it invalidated."""
        done = c_bool()
        self._call(lib.tokenforge_pipeline_invalidate_if, self._name(step_name), enc(access_token), byref(done))
        return bool(done.value)

    def invalidate_all(self) -> None:
        """Drops every step's cached (and stored) token."""
        for name in self.step_names:
            self.invalidate_step(name)

    def add_step(self, step: TokenFetcherInterface) -> None:
        """Adds a step while other threads use the pipeline (their gets go on and never wait
        for it). Thread-safe.

        Raises:
            ConfigError: a step of that name is there already, a dependency is not a step, or
                the step would close a cycle (nothing changes).
        """
        if not isinstance(step, TokenFetcherInterface):
            raise TypeError(f"step must be a TokenFetcherInterface, not {type(step).__name__}")
        with self._edit_lock:
            self._call(lib.tokenforge_pipeline_add_live, step._tokenforge_fetcher())
            self._generation += 1
            if self._steps or not self._json_steps:
                self._steps = self._steps + [step]
            else:
                self._json_steps = self._json_steps + [step.name]
            self._step_map = {**self._step_map, step.name: step}

    def remove_step(self, step_name: str) -> None:
        """Removes a step while other threads use the pipeline: its cached and stored tokens
        are dropped, and getting it raises :class:`InvalidArgumentError` from then on.
        Thread-safe.

        Raises:
            ConfigError: other steps depend on it (the message names them; remove them
                first).
            InvalidArgumentError: no such step.
        """
        with self._edit_lock:
            self._call(lib.tokenforge_pipeline_remove, self._name(step_name))
            self._generation += 1
            self._steps = [step for step in self._steps if step.name != step_name]
            self._json_steps = [name for name in self._json_steps if name != step_name]
            self._step_map = {name: step for name, step in self._step_map.items() if name != step_name}
            # The slot and counter cached for the name are of the old generation: _get
            # neither reuses nor keeps them.
            self._fast.pop(step_name, None)

    def get_step(self, name: str) -> Optional[TokenFetcherInterface]:
        """The step named ``name``, or None."""
        return self._step_map.get(name)

    @property
    def step_names(self) -> List[str]:
        """The step names, in the order given."""
        return [step.name for step in self._steps] or list(self._json_steps)

    @property
    def storage(self) -> Optional[TokenStorage]:
        """The store given, or None."""
        return self._storage

    def close(self) -> None:
        """Releases the pipeline and its cached tokens (a renewal running in the background
        ends on its own). Idempotent; using it afterwards raises."""
        self._fast.clear()
        self._owned.close()

    def __enter__(self) -> "TokenFetchPipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TokenFetchPipeline(steps={self.step_names!r})"
