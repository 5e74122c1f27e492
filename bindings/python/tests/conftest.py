"""Fixtures: the loopback token server (target/release/tokenforge-testserver) and a Redis
server, each started once per session on a free port and stopped at the end."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("TOKENFORGE_ROOT") or HERE.parent.parent.parent)
SERVER = ROOT / "target" / "release" / "tokenforge-testserver"


def _wait_for(path: Path, proc: subprocess.Popen, what: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return path.read_text().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not start")


@pytest.fixture(scope="session")
def base() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of the loopback token server."""
    assert SERVER.is_file(), f"{SERVER} is missing: run `make lib` (cargo build --release --workspace)"
    tmp = Path(tempfile.mkdtemp(prefix="tf-server-"))
    proc = subprocess.Popen([str(SERVER), "--port-file", str(tmp / "port"), "--max-seconds", "1800"],
                            stdout=subprocess.DEVNULL)
    try:
        port = _wait_for(tmp / "port", proc, "tokenforge-testserver")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def hits(base: str):
    """hits(path) -> how many requests the server has had on ``path``."""

    def count(path: str) -> int:
        with urllib.request.urlopen(f"{base}/_count{path}") as resp:
            return json.loads(resp.read())["count"]

    return count


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a redis-server of this session."""
    exe = shutil.which("redis-server")
    assert exe, "redis-server is missing (run-tests.sh installs it through apt-get)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), 0.5) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


_counter = iter(range(1, 1 << 30))


@pytest.fixture
def unique() -> str:
    """A name no other test uses (for server keys such as /switch/<key>)."""
    return f"k{os.getpid()}x{next(_counter)}"
