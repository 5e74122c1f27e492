#!/usr/bin/env python3
"""Speed of the Python binding, beside the reference's figure: a cached get from Python (the
reference's TokenManager.get_token takes 1.67 us), the same get through the C call, and a
fetch against the loopback token server. Starts the server itself (target/release of this
checkout); run it with the installed package, or with PYTHONPATH=bindings/python/src and
TOKENFORGE_LIBRARY=target/release/libtokenforge.so.

Prints one line per figure."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tokenforge import BodyTokenFetcher, ClientCredentialsTokenFetcher, TokenFetchPipeline

ROOT = Path(os.environ.get("TOKENFORGE_ROOT") or Path(__file__).resolve().parent.parent.parent)
REFERENCE_CACHED_GET_US = 1.67


def server() -> "tuple[subprocess.Popen, str]":
    port_file = Path(tempfile.mkdtemp(prefix="tf-bench-")) / "port"
    proc = subprocess.Popen([str(ROOT / "target/release/tokenforge-testserver"), "--port-file", str(port_file),
                             "--max-seconds", "600"], stdout=subprocess.DEVNULL)
    for _ in range(400):
        if port_file.is_file() and port_file.read_text():
            return proc, f"http://127.0.0.1:{port_file.read_text()}"
        time.sleep(0.025)
    proc.kill()
    sys.exit("bench: the loopback server did not start")


def per_call_us(fn, n: int, rounds: int = 5) -> float:
    """The best of ``rounds`` of ``n`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - began)
    return best / n * 1e6


def http_client_fetch(base: str):
    """The same request by hand with the standard library on one kept-alive connection, and
    the JSON answer parsed: the fastest a Python fetcher could be (the peer of the fetch)."""
    import http.client
    import json
    from urllib.parse import urlencode, urlsplit

    where = urlsplit(base)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    body = urlencode({"grant_type": "client_credentials", "client_id": "bench", "client_secret": "bench-secret"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}

    def fetch() -> str:
        conn.request("POST", "/oauth/token", body, headers)
        resp = conn.getresponse()
        data = json.loads(resp.read())
        assert resp.status == 200 and data["access_token"]
        return data["access_token"]

    return fetch


def reference_shaped_get(token):
    """A cached get shaped as the reference's TokenManager.get_token: a lock, a dict lookup
    and an ``is_expired`` check against the clock (measured in the same run, so that the
    ratio holds on a busy machine)."""
    import threading
    from datetime import datetime, timedelta

    lock = threading.Lock()
    cache = {"api": (token, datetime.now() + timedelta(hours=1))}
    buffer = timedelta(seconds=30)

    def get():
        with lock:
            entry = cache.get("api")
            if entry is not None and datetime.now() < entry[1] - buffer:
                return entry[0]
        raise AssertionError("expired")

    return get


def main() -> None:
    proc, base = server()
    try:
        with TokenFetchPipeline([ClientCredentialsTokenFetcher("api", f"{base}/oauth/token", "bench",
                                                               "bench-secret")]) as p:
            p.get("api")
            cached = per_call_us(lambda: p.get("api"), 1_000_000)
            shaped = per_call_us(reference_shaped_get(p.get("api")), 1_000_000)
            slot = p._fast["api"]  # the C call, reusing the TokenData it already has
            through_c = per_call_us(lambda: p._get("api", slot), 100_000)
        fetcher = BodyTokenFetcher("fetch", base, "/oauth/token", request_data={
            "grant_type": "client_credentials", "client_id": "bench", "client_secret": "bench-secret"})
        fetcher.fetch()
        fetch = per_call_us(fetcher.fetch, 500, rounds=3)
        peer = per_call_us(http_client_fetch(base), 500, rounds=3)
    finally:
        proc.terminate()
        proc.wait()
    print(f"cached get (pipeline.get, Python fast path): {cached:.3f} us "
          f"(reference TokenManager: {REFERENCE_CACHED_GET_US} us, {REFERENCE_CACHED_GET_US / cached:.1f}x; "
          f"a get shaped like it, this run: {shaped:.3f} us, {shaped / cached:.1f}x)")
    print(f"cached get through the C call (tokenforge_pipeline_get_cacheable, as while a renewal runs): "
          f"{through_c:.3f} us")
    print(f"fetch (BodyTokenFetcher.fetch, client_credentials, loopback server): {fetch:.1f} us "
          f"(http.client by hand on a kept-alive connection: {peer:.1f} us, ratio {fetch / peer:.2f})")


if __name__ == "__main__":
    main()
