"""TokenFetchPipeline: the reference's pipeline, cached, shared by threads, renewed ahead."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tokenforge import (
    BodyTokenFetcher,
    ClientCredentialsTokenFetcher,
    ConfigError,
    HeaderTokenFetcher,
    HTTPStatusError,
    InMemoryTokenStorage,
    InvalidArgumentError,
    TokenFetchPipeline,
)


def mixed(base):
    """The reference's "Mixed Header and Body Tokens" steps."""

    class UserTokenFetcher(BodyTokenFetcher):
        def _build_request_headers(self, context):
            headers = super()._build_request_headers(context)
            if context and "device_token" in context:
                headers["X-Device-Token"] = context["device_token"].access_token
            return headers

    device = HeaderTokenFetcher(name="device_token", base_url=base, endpoint="/device/register", method="POST",
                                request_headers={"X-Device-ID": "device-123"}, token_header="X-Device-Token",
                                ttl=timedelta(days=30))
    user = UserTokenFetcher(name="user_token", base_url=base, endpoint="/user/auth", method="POST",
                            request_data={"username": "user", "password": "pass"}, token_field="access_token",
                            ttl=timedelta(minutes=15), depends_on=["device_token"])
    return [device, user]


def test_execute_returns_the_last_steps_token_and_caches(base, hits):
    before = hits("/device/register"), hits("/user/auth")
    with TokenFetchPipeline(mixed(base), storage=InMemoryTokenStorage(), cache_key_prefix="myservice") as p:
        user = p.execute()
        assert user.access_token.startswith("user-") and 890 < user.expires_in <= 900
        assert p.execute() is user
        assert p.get("device_token").access_token.startswith("dev-")
        assert (hits("/device/register"), hits("/user/auth")) == (before[0] + 1, before[1] + 1)
        assert p.step_names == ["device_token", "user_token"]
        assert p.get_step("user_token").name == "user_token" and p.get_step("nope") is None
        again = p.execute(force_refresh=True)
        assert again.access_token != user.access_token
        assert hits("/device/register") == before[0] + 2


def test_steps_in_any_order(base):
    with TokenFetchPipeline(list(reversed(mixed(base)))) as p:
        assert p.get("user_token").access_token.startswith("user-")


def test_invalidate_step_cascades_to_dependents(base):
    with TokenFetchPipeline(mixed(base)) as p:
        dev, user = p.get("device_token"), p.get("user_token")
        p.invalidate_step("user_token")
        assert p.get("device_token") is dev and p.get("user_token") != user
        user2 = p.get("user_token")
        p.invalidate_step("device_token")
        assert p.get("user_token") != user2 and p.get("device_token") != dev
        dev3, user3 = p.get("device_token"), p.get("user_token")
        p.invalidate_all()
        assert p.get("device_token") != dev3 and p.get("user_token") != user3


def test_invalidate_if(base):
    with TokenFetchPipeline(mixed(base)) as p:
        user = p.get("user_token")
        assert not p.invalidate_if("user_token", "some-other-token")
        assert p.get("user_token") is user
        assert p.invalidate_if("user_token", user.access_token)
        assert p.get("user_token") != user


def test_validation(base):
    with pytest.raises(ConfigError, match="nope") as info:
        TokenFetchPipeline([BodyTokenFetcher("a", base, "/echo", depends_on=["nope"])])
    assert isinstance(info.value, ValueError)
    with pytest.raises(ConfigError):
        TokenFetchPipeline([BodyTokenFetcher("a", base, "/echo", depends_on=["b"]),
                            BodyTokenFetcher("b", base, "/echo", depends_on=["a"])])
    with pytest.raises(ConfigError):
        TokenFetchPipeline([BodyTokenFetcher("a", base, "/echo"), BodyTokenFetcher("a", base, "/echo")])
    lazy = TokenFetchPipeline([BodyTokenFetcher("a", base, "/echo", depends_on=["nope"])], validate_dependencies=False)
    with pytest.raises(ConfigError):
        lazy.get("a")
    with pytest.raises(TypeError):
        TokenFetchPipeline(["not a fetcher"])  # type: ignore[list-item]


def test_unknown_step_and_closed_pipeline(base):
    p = TokenFetchPipeline(mixed(base))
    with pytest.raises(InvalidArgumentError):
        p.get("nope")
    p.get("device_token")
    p.close()
    p.close()
    with pytest.raises(InvalidArgumentError, match="closed"):
        p.get("device_token")
    with pytest.raises(InvalidArgumentError):
        TokenFetchPipeline([]).execute()


def test_get_is_served_from_python_while_fresh_and_follows_changes(base):
    with TokenFetchPipeline(mixed(base)) as p:
        t = p.get("device_token")
        assert all(p.get("device_token") is t for _ in range(1000))
        p.invalidate_step("device_token")  # the change counter moves
        t2 = p.get("device_token")
        assert t2 is not t and t2.access_token != t.access_token


def test_threads_share_one_fetch(base, hits):
    route = "/slow/301"
    before = hits(route)
    with TokenFetchPipeline([BodyTokenFetcher("slow", base, route)]) as p:
        barrier = threading.Barrier(16)

        def get(_):
            barrier.wait()
            return p.get("slow")

        with ThreadPoolExecutor(16) as pool:
            tokens = list(pool.map(get, range(16)))
    assert len({t.access_token for t in tokens}) == 1
    assert hits(route) == before + 1


def test_threads_hammering_one_pipeline(base):
    with TokenFetchPipeline(mixed(base)) as p:
        first = p.get("user_token")
        errors = []

        def work():
            try:
                for i in range(5000):
                    t = p.get("user_token" if i % 2 else "device_token")
                    assert t.access_token
                    if i % 1000 == 0:
                        p.invalidate_if("user_token", "never-this-one")
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and p.get("user_token") is first


def test_refresh_ahead_without_waiting(base):
    # ttl 2 s: the token is due for renewal after 1 s (half its lifetime) and renewed in the
    # background while callers keep getting it at once; a fetch of /slow/400 takes 0.4 s.
    with TokenFetchPipeline([BodyTokenFetcher("s", base, "/slow/400", ttl=2)]) as p:
        first = p.get("s")
        time.sleep(1.2)
        began = time.monotonic()
        assert p.get("s").access_token == first.access_token
        assert time.monotonic() - began < 0.3  # nobody waited for the renewal
        deadline = time.monotonic() + 3
        while p.get("s").access_token == first.access_token and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.get("s").access_token != first.access_token


def test_stale_while_revalidate_when_the_server_fails(base, unique):
    seen = []

    class Watched(BodyTokenFetcher):
        def on_fetch_error(self, error, context=None):
            seen.append(error)

    fetcher = Watched("s", base, f"/switch/{unique}", ttl=4, max_attempts=1)
    with TokenFetchPipeline([fetcher]) as p:
        first = p.get("s")
        BodyTokenFetcher("b", base, f"/_break/{unique}").fetch()
        time.sleep(2.2)  # due for renewal (half of 4 s), still valid
        deadline = time.monotonic() + 1.5
        while not seen and time.monotonic() < deadline:
            assert p.get("s").access_token == first.access_token  # the valid token is served
            time.sleep(0.05)
        assert seen and isinstance(seen[0], HTTPStatusError) and seen[0].http_status == 503
        assert p.get("s").access_token == first.access_token
        time.sleep(max(0.0, first.expires_in) + 0.3)  # expired now, and the server still fails
        with pytest.raises(HTTPStatusError):
            p.get("s")
        BodyTokenFetcher("f", base, f"/_fix/{unique}").fetch()
        time.sleep(0.6)
        assert p.get("s").access_token != first.access_token


def test_caller_renews_without_background_threads(base, unique):
    with TokenFetchPipeline([BodyTokenFetcher("s", base, f"/switch/{unique}", ttl=2)],
                            background_refresh=False, refresh_margin=timedelta(seconds=30)) as p:
        first = p.get("s")
        time.sleep(1.1)
        assert p.get("s").access_token != first.access_token  # renewed by this caller


def test_two_pipelines_share_a_store(base, hits):
    store = InMemoryTokenStorage()
    route = "/oauth/token"
    steps = lambda: [ClientCredentialsTokenFetcher("api", f"{base}{route}", "shared", "shared-secret")]  # noqa: E731
    with TokenFetchPipeline(steps(), storage=store, cache_key_prefix="svc") as one:
        t = one.get("api")
        before = hits(route)
        with TokenFetchPipeline(steps(), storage=store, cache_key_prefix="svc") as two:
            assert two.get("api").access_token == t.access_token
        assert hits(route) == before
        assert store.retrieve_token("svc:api").access_token == t.access_token
        one.invalidate_step("api")
        assert store.retrieve_token("svc:api") is None
    with TokenFetchPipeline(steps(), storage=store) as default_prefix:
        default_prefix.get("api")
        assert store.exists("tokenforge:api")


def test_from_json_reports_the_field(base, monkeypatch):
    monkeypatch.setenv("TF_TEST_SECRET", "app-secret")
    p = TokenFetchPipeline.from_json(
        '{"steps":[{"name":"app","kind":"client_credentials","token_url":"%s/oauth/token",'
        '"client_id":"app","client_secret":"${env:TF_TEST_SECRET}"}]}' % base, step_names=["app"])
    with p:
        assert p.execute().access_token.startswith("cc-") and p.step_names == ["app"]
    with pytest.raises(ConfigError) as info:
        TokenFetchPipeline.from_json('{"steps":[{"name":"a","kind":"body","base_url":"%s","endpoint":"/x",'
                                     '"depends_onn":[]}]}' % base)
    assert info.value.field == "depends_onn" and info.value.step == "a" and "did you mean" in str(info.value)
