"""TokenStorage: the library's memory, file and Redis stores, and stores written in Python."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest

from tokenforge import (
    ClientCredentialsTokenFetcher,
    FileTokenStorage,
    InMemoryTokenStorage,
    InvalidArgumentError,
    RedisTokenStorage,
    StorageError,
    TokenData,
    TokenFetchPipeline,
    TokenStorage,
)


def token(name="a", minutes=10):
    return TokenData(name, expires_at=datetime.now(timezone.utc) + timedelta(minutes=minutes), refresh_token="r",
                     scope="s")


@pytest.mark.parametrize("make", ["memory", "file", "redis"])
def test_store_retrieve_delete(make, tmp_path, redis_url):
    store = {"memory": InMemoryTokenStorage, "file": lambda: FileTokenStorage(tmp_path / "tokens"),
             "redis": lambda: RedisTokenStorage(redis_url)}[make]()
    with store:
        assert store.retrieve_token(f"{make}-k") is None and not store.exists(f"{make}-k")
        t = token()
        store.store_token(f"{make}-k", t)
        back = store.retrieve_token(f"{make}-k")
        assert back == t and back.refresh_token == "r" and back.scope == "s"
        assert store.get(f"{make}-k") == t and store.exists(f"{make}-k")
        store.set(f"{make}-k", token("b"))
        assert store.get(f"{make}-k").access_token == "b"
        store.delete_token(f"{make}-k")
        store.delete(f"{make}-k")  # absent: fine
        assert store.retrieve_token(f"{make}-k") is None
    with pytest.raises(InvalidArgumentError, match="closed"):
        store.retrieve_token("x")


def test_the_apiconfig_example(base):
    from tokenforge import refresh_oauth2_token

    new_tokens = refresh_oauth2_token(refresh_token="rt-static", token_url=f"{base}/oauth/token",
                                      client_id="my-client", client_secret="my-client-secret")
    storage = InMemoryTokenStorage()
    storage.store_token("default", new_tokens)
    back = storage.retrieve_token("default")
    assert back.access_token == new_tokens["access_token"] and back.refresh_token == "rt-static"
    assert abs(back.expires_in - new_tokens["expires_in"]) < 2


def test_file_store_files_and_permissions(tmp_path):
    d = tmp_path / "tokens"
    store = FileTokenStorage(d)
    store.store_token("k", token())
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    files = [p for p in d.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    with pytest.raises(StorageError, match="open"):
        FileTokenStorage(open_dir)
    assert repr(store) == f"FileTokenStorage({str(d)!r})"


CHILD = """
import sys
from tokenforge import ClientCredentialsTokenFetcher, FileTokenStorage, TokenFetchPipeline
p = TokenFetchPipeline([ClientCredentialsTokenFetcher("api", sys.argv[1] + "/oauth/token", "proc", "proc-secret")],
                       storage=FileTokenStorage(sys.argv[2]))
print(p.get("api").access_token)
"""


def test_processes_share_a_file_store(base, tmp_path, hits):
    d = str(tmp_path / "shared")
    env = dict(os.environ)
    first = subprocess.run([sys.executable, "-c", CHILD, base, d], capture_output=True, text=True, env=env, check=True)
    before = hits("/oauth/token")
    second = subprocess.run([sys.executable, "-c", CHILD, base, d], capture_output=True, text=True, env=env, check=True)
    assert first.stdout.strip().startswith("cc-") and first.stdout == second.stdout
    assert hits("/oauth/token") == before
    with TokenFetchPipeline([ClientCredentialsTokenFetcher("api", f"{base}/oauth/token", "proc", "proc-secret")],
                            storage=FileTokenStorage(d)) as here:
        assert here.get("api").access_token == first.stdout.strip()


def test_pipelines_share_redis(base, redis_url, hits):
    steps = lambda: [ClientCredentialsTokenFetcher("api", f"{base}/oauth/token", "redis", "redis-secret")]  # noqa
    with TokenFetchPipeline(steps(), storage=RedisTokenStorage(redis_url), cache_key_prefix="py") as one:
        t = one.get("api")
        before = hits("/oauth/token")
        with TokenFetchPipeline(steps(), storage=RedisTokenStorage(redis_url), cache_key_prefix="py") as two:
            assert two.get("api").access_token == t.access_token
        assert hits("/oauth/token") == before


def test_redis_url_password_is_hidden():
    store = RedisTokenStorage("redis://user:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in repr(store) and "user" in repr(store)
    with pytest.raises(InvalidArgumentError):
        RedisTokenStorage("http://not-redis")


def test_a_down_redis_never_fails_a_get(base):
    with TokenFetchPipeline([ClientCredentialsTokenFetcher("api", f"{base}/oauth/token", "x", "x-secret")],
                            storage=RedisTokenStorage("redis://127.0.0.1:1/0")) as p:
        assert p.get("api").access_token.startswith("cc-")


class DictStorage(TokenStorage):
    """A store written in Python (the reference's InMemoryTokenStorage)."""

    def __init__(self):
        self.tokens = {}
        self.calls = []
        self.lock = threading.Lock()

    def store_token(self, key, token_data):
        with self.lock:
            self.calls.append(("store", key))
            self.tokens[key] = token_data

    def retrieve_token(self, key):
        with self.lock:
            self.calls.append(("retrieve", key))
            return self.tokens.get(key)

    def delete_token(self, key):
        with self.lock:
            self.calls.append(("delete", key))
            self.tokens.pop(key, None)


def test_a_python_store_in_pipelines(base, hits):
    store = DictStorage()
    steps = lambda: [ClientCredentialsTokenFetcher("api", f"{base}/oauth/token", "py", "py-secret")]  # noqa
    with TokenFetchPipeline(steps(), storage=store, cache_key_prefix="svc") as one:
        t = one.get("api")
        assert ("retrieve", "svc:api") in store.calls and ("store", "svc:api") in store.calls
        assert isinstance(store.tokens["svc:api"], TokenData)
        assert store.tokens["svc:api"].access_token == t.access_token
        before = hits("/oauth/token")
        with TokenFetchPipeline(steps(), storage=store, cache_key_prefix="svc") as two:
            assert two.get("api").access_token == t.access_token
        assert hits("/oauth/token") == before
        one.invalidate_step("api")
        assert ("delete", "svc:api") in store.calls and "svc:api" not in store.tokens


def test_a_python_store_may_return_dicts(base, hits):
    class Serialising(DictStorage):
        def store_token(self, key, token_data):
            super().store_token(key, token_data.to_dict())

    store = Serialising()
    steps = lambda: [ClientCredentialsTokenFetcher("api", f"{base}/oauth/token", "ser", "ser-secret")]  # noqa
    with TokenFetchPipeline(steps(), storage=store) as one:
        t = one.get("api")
        assert isinstance(store.tokens["tokenforge:api"], dict)
        before = hits("/oauth/token")
        with TokenFetchPipeline(steps(), storage=store) as two:
            assert two.get("api").access_token == t.access_token
        assert hits("/oauth/token") == before


def test_a_subclass_of_a_library_store_has_its_overrides_called(base):
    class Logged(InMemoryTokenStorage):
        stored = []

        def store_token(self, key, token_data):
            self.stored.append(key)
            super().store_token(key, token_data)

    store = Logged()
    with TokenFetchPipeline([ClientCredentialsTokenFetcher("api", f"{base}/oauth/token", "l", "l-secret")],
                            storage=store) as p:
        t = p.get("api")
    assert Logged.stored == ["tokenforge:api"] and store.retrieve_token("tokenforge:api") == t


class Boom(Exception):
    pass


def test_an_exception_in_a_store_reaches_on_fetch_error_unchanged(base):
    boom = Boom("the store is full")
    reported = []

    class Broken(DictStorage):
        def store_token(self, key, token_data):
            raise boom

    class Watched(ClientCredentialsTokenFetcher):
        def on_fetch_error(self, error, context=None):
            reported.append(error)

    with TokenFetchPipeline([Watched("api", f"{base}/oauth/token", "b", "b-secret")], storage=Broken()) as p:
        assert p.get("api").access_token.startswith("cc-")  # a store never fails a get
    assert any(e is boom for e in reported)


def test_a_failing_retrieve_is_a_miss(base):
    class Unreadable(DictStorage):
        def retrieve_token(self, key):
            raise OSError("disk on fire")

        def delete_token(self, key):
            raise KeyError(key)

    with TokenFetchPipeline([ClientCredentialsTokenFetcher("api", f"{base}/oauth/token", "u", "u-secret")],
                            storage=Unreadable()) as p:
        assert p.get("api").access_token.startswith("cc-")
        p.invalidate_step("api")  # a failing delete is reported, not raised
        assert p.get("api").access_token.startswith("cc-")


def test_storage_must_be_a_token_storage(base):
    with pytest.raises(TypeError):
        TokenFetchPipeline([], storage={})  # type: ignore[arg-type]
