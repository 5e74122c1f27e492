"""What the library reports to Python: pipeline events, log lines; and steps added and
removed while the pipeline is in use."""

from __future__ import annotations

import gc
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import tokenforge
from tokenforge import (
    EVENT_KINDS,
    BodyTokenFetcher,
    ConfigError,
    HTTPStatusError,
    InvalidArgumentError,
    PipelineEvent,
    TokenFetchPipeline,
)
from tokenforge import _ffi


def test_events_of_a_fetch_with_retries_then_cache_hits(base, unique):
    events = []
    fetcher = BodyTokenFetcher("s", base, f"/flaky/{unique}/2", retry_delay=0.01)
    with TokenFetchPipeline([fetcher], on_event=events.append) as p:
        first = p.get("s")
        assert p.get("s").access_token == first.access_token
        assert p.get("s").access_token == first.access_token
    kinds = [e.kind for e in events]
    assert kinds == ["fetch_started", "retry", "retry", "fetch_succeeded", "cache_hit", "cache_hit"], kinds
    assert all(isinstance(e, PipelineEvent) and e.step == "s" and not e.background for e in events)
    assert [e.attempt for e in events if e.kind == "retry"] == [2, 3]
    done = events[3]
    assert done.expires_at == first.expires_at and done.duration.total_seconds() > 0 and done.error is None
    assert "fetch_failed" in EVENT_KINDS and EVENT_KINDS.index("storage_failed") == 9  # the C numbering


def test_failure_events_carry_the_error(base, unique):
    events = []
    with TokenFetchPipeline([BodyTokenFetcher("s", base, "/status/503", max_attempts=1), app(base, "ok")],
                            on_event=events.append) as p:
        with pytest.raises(HTTPStatusError):
            p.get("s")
        p.get("ok")
        p.invalidate_step("ok")
    failed = [e for e in events if e.kind == "fetch_failed"]
    assert len(failed) == 1 and isinstance(failed[0].error, HTTPStatusError)
    assert failed[0].error.http_status == 503 and failed[0].error.step == "s"
    assert (events[-1].kind, events[-1].step, events[-1].error) == ("invalidated", "ok", None)


def test_an_exception_in_the_event_hook_is_logged_and_the_get_succeeds(base, caplog):
    def broken(event):
        raise RuntimeError("hook bug")

    with caplog.at_level(logging.ERROR, logger="tokenforge"):
        with TokenFetchPipeline([BodyTokenFetcher("s", base, "/oauth/token",
                                                  request_data={"grant_type": "client_credentials",
                                                                "client_id": "a", "client_secret": "a-secret"})],
                                on_event=broken) as p:
            assert p.get("s").access_token.startswith("cc-")
    assert any("event hook failed" in r.getMessage() and "hook bug" in (r.exc_text or "") for r in caplog.records)


def test_events_from_threads_and_no_leaked_hook(base):
    before = _ffi.live_handles()
    lock = threading.Lock()
    counts = {}

    def count(event):
        with lock:
            counts[event.kind] = counts.get(event.kind, 0) + 1

    p = TokenFetchPipeline([app(base, "s")], on_event=count)
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: p.get("s").access_token, range(200)))
    assert len(tokens) == 1 and counts["fetch_succeeded"] == 1
    assert counts["fetch_succeeded"] + counts.get("cache_hit", 0) >= 200 - 8  # a joined flight is no hit
    with pytest.raises(TypeError):
        TokenFetchPipeline([], on_event=42)
    p = None  # collected without close(): the library's weak reference to it goes too
    gc.collect()
    assert _ffi.live_handles() <= before


def test_log_lines_reach_python_logging(base, unique, caplog):
    try:
        with caplog.at_level(logging.DEBUG, logger="tokenforge"):
            tokenforge.log_to_logging(logging.DEBUG)
            with TokenFetchPipeline([BodyTokenFetcher("s", base, f"/flaky/{unique}/1", retry_delay=0.01,
                                                      request_data={"password": "hunter2-secret"})]) as p:
                p.get("s")
                p.get("s")
    finally:
        tokenforge.set_log_callback(None)
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "tokenforge"]
    assert any(level == logging.WARNING and "step=s" in line and "event=retry" in line for level, line in lines), lines
    assert any(level == logging.INFO and "event=fetch_succeeded" in line for level, line in lines), lines
    assert not any("hunter2" in line or "flaky-" in line for _, line in lines)


def test_log_callback_level_filter_and_reset(base, unique, caplog):
    seen = []
    try:
        tokenforge.set_log_callback(lambda level, line: seen.append((level, line)), logging.WARNING)
        with TokenFetchPipeline([BodyTokenFetcher("s", base, f"/flaky/{unique}/1", retry_delay=0.01)]) as p:
            p.get("s")
            p.get("s")
        assert seen and all(level >= logging.WARNING for level, _ in seen)
        with pytest.raises(InvalidArgumentError):
            tokenforge.set_log_callback(print, "info")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            tokenforge.set_log_callback(42)  # type: ignore[arg-type]
        with caplog.at_level(logging.ERROR, logger="tokenforge"):
            tokenforge.set_log_callback(lambda level, line: 1 / 0)  # raises: logged, ignored
            with TokenFetchPipeline([BodyTokenFetcher("t", base, "/status/500", max_attempts=1)]) as p:
                with pytest.raises(HTTPStatusError):
                    p.get("t")
        assert any("log callback failed" in r.getMessage() and "ZeroDivisionError" in (r.exc_text or "")
                   for r in caplog.records)
        later = []
        tokenforge.set_log_callback(lambda level, line: later.append(line), logging.ERROR)
        with TokenFetchPipeline([BodyTokenFetcher("u", base, "/status/500", max_attempts=1)]) as p:
            with pytest.raises(HTTPStatusError):
                p.get("u")
        assert any("step=u" in line for line in later)
    finally:
        tokenforge.set_log_callback(None)
    n = len(later)
    with TokenFetchPipeline([BodyTokenFetcher("v", base, "/status/500", max_attempts=1)]) as p:
        with pytest.raises(HTTPStatusError):
            p.get("v")
    assert len(later) == n  # no callback any more


def app(base, name="app", depends_on=None):
    return BodyTokenFetcher(name, base, "/v1/app/token", request_data={"client_id": name, "client_secret": f"{name}-secret"},
                            token_field="token", depends_on=depends_on)


def test_a_get_racing_remove_and_add_never_returns_the_removed_steps_token(base):
    from ctypes import byref, c_char_p, c_int, c_void_p

    from tokenforge._ffi import lib

    lib.tokenforge_pipeline_step.restype = c_int
    lib.tokenforge_pipeline_step.argtypes = [c_void_p, c_char_p, c_void_p, c_void_p]
    lib.tokenforge_step_free.argtypes = [c_void_p]
    with TokenFetchPipeline([app(base, "x")]) as p:
        first = p.get("x")
        slot = p._fast["x"]  # what a get that is about to call the library has read
        # A step handle keeps the old step table (and its change counter) alive, as a get or a
        # renewal under way on another thread would.
        handle = c_void_p()
        ptr = p._owned.acquire()
        assert lib.tokenforge_pipeline_step(ptr, b"x", byref(handle), None) == 0
        p._owned.release()
        try:
            p.remove_step("x")
            p.add_step(app(base, "x"))  # a new step under the same name: its own counter
            assert p._get("x", slot).access_token != first.access_token
            assert p.get("x").access_token != first.access_token
        finally:
            lib.tokenforge_step_free(handle)


def test_add_and_remove_steps_while_in_use(base):
    with TokenFetchPipeline([app(base)]) as p:
        stop = threading.Event()
        failures = []

        def reader():
            while not stop.is_set():
                try:
                    p.get("app")
                except BaseException as e:  # noqa: BLE001
                    failures.append(e)

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for i in range(20):
                p.add_step(app(base, f"extra{i}", depends_on=["app"]))
                assert p.get(f"extra{i}").access_token.startswith("app-")
            assert p.step_names == ["app"] + [f"extra{i}" for i in range(20)]
            with pytest.raises(ConfigError) as info:
                p.remove_step("app")  # others depend on it
            assert "extra0" in str(info.value)
            for i in range(20):
                p.remove_step(f"extra{i}")
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not failures
        assert p.step_names == ["app"] and p.get_step("extra0") is None
        with pytest.raises(InvalidArgumentError):
            p.get("extra0")
        with pytest.raises(InvalidArgumentError):
            p.remove_step("extra0")
        with pytest.raises(ConfigError):
            p.add_step(app(base))  # the name is taken
        with pytest.raises(ConfigError):
            p.add_step(app(base, "orphan", depends_on=["missing"]))
        with pytest.raises(TypeError):
            p.add_step("app")  # type: ignore[arg-type]
        # a name removed and added again is a new step, with a new token
        p.add_step(app(base, "again"))
        first = p.get("again")
        p.remove_step("again")
        p.add_step(app(base, "again"))
        assert p.get("again").access_token != first.access_token
