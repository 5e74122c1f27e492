"""No leak of callback objects, causes or Python objects after many fetches."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import pytest

from tokenforge import BodyTokenFetcher, TokenData, TokenFetcherInterface, TokenFetchPipeline, TokenStorage, _ffi


class Hooked(BodyTokenFetcher):
    def _build_request_headers(self, context):
        headers = super()._build_request_headers(context)
        headers["X-N"] = "1"
        return headers


class Custom(TokenFetcherInterface):
    name = "custom"  # type: ignore[assignment]

    def fetch(self, context=None):
        return TokenData("c")


class Boom(Exception):
    pass


class FailingHook(BodyTokenFetcher):
    def _build_request_data(self, context):
        raise Boom("x" * 100)

    def on_fetch_error(self, error, context=None):
        pass


class DictStorage(TokenStorage):
    def __init__(self):
        self.d = {}

    def store_token(self, key, token_data):
        self.d[key] = token_data

    def retrieve_token(self, key):
        return self.d.get(key)

    def delete_token(self, key):
        self.d.pop(key, None)


def settle():
    for _ in range(3):
        gc.collect()


def test_callback_objects_are_released(base):
    settle()
    handles, causes = _ffi.live_handles(), _ffi.live_causes()
    refs = []
    for _ in range(200):
        f = Hooked("h", base, "/echo")
        f.fetch()
        c = Custom()
        s = DictStorage()
        events = []
        with TokenFetchPipeline([f, c], storage=s, on_event=events.append) as p:
            p.get("h")
            p.get("custom")
            p.add_step(Hooked("added", base, "/echo"))
            p.get("added")
            p.remove_step("added")
        assert events
        bad = FailingHook("b", base, "/echo")
        with pytest.raises(Boom):
            bad.fetch()
        refs += [weakref.ref(f), weakref.ref(c), weakref.ref(s), weakref.ref(bad), weakref.ref(p)]
        del f, c, s, bad, p
    settle()
    assert [r for r in refs if r() is not None] == []
    assert _ffi.live_handles() == handles and _ffi.live_causes() == causes


def test_many_fetches_do_not_grow_memory(base):
    f = Hooked("h", base, "/echo")
    p = TokenFetchPipeline([Hooked("p", base, "/echo"), Custom()])
    bad = FailingHook("b", base, "/echo")

    def round_(n):
        for _ in range(n):
            f.fetch({"x": TokenData("t")})
            p.invalidate_all()
            p.get("p")
            p.get("custom")
            try:
                bad.fetch()
            except Boom:
                pass

    round_(100)  # warm-up: caches, interned strings
    settle()
    tracemalloc.start()
    try:
        first = tracemalloc.take_snapshot()
        round_(1000)
        settle()
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(first, "filename"))
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes kept after 1000 rounds"
    p.close()
    handles_before_close = _ffi.live_handles()
    f = p = bad = None  # drop them (the closure above shares these names)
    settle()
    assert _ffi.live_handles() < handles_before_close


def test_a_failure_a_pipeline_remembers_is_released_with_it(base):
    settle()
    causes = _ffi.live_causes()

    class Failing(Custom):
        def fetch(self, context=None):
            raise Boom("remembered")

    p = TokenFetchPipeline([Failing()])
    with pytest.raises(Boom):
        p.get("custom")
    p.close()
    del p
    settle()
    assert _ffi.live_causes() == causes


EXIT_SCRIPT = """
import sys, time
from tokenforge import BodyTokenFetcher, TokenStorage, TokenFetchPipeline

class Store(TokenStorage):
    def store_token(self, key, token_data): pass
    def retrieve_token(self, key): return None
    def delete_token(self, key): pass

class Hooked(BodyTokenFetcher):
    def _build_request_headers(self, context):
        return {"X-Hook": "1"}

p = TokenFetchPipeline([Hooked("s", sys.argv[1], "/slow/500", ttl=2)], storage=Store())
p.get("s")
time.sleep(1.1)
p.get("s")  # starts a renewal in the background, whose storage write comes after exit began
print("exiting", flush=True)
"""


def test_exit_while_a_background_renewal_calls_python(base):
    # CPython stops a thread that takes the GIL while it finalises (pthread_exit through the
    # library's frames would abort the process): the package drains callbacks at exit first.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, base], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "exiting"), done.stderr
