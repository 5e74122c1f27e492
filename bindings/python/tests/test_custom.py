"""TokenFetcherInterface subclasses with a Python fetch: custom steps of the library."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tokenforge import (
    AuthenticationException,
    BodyTokenFetcher,
    DependencyError,
    HeaderTokenFetcher,
    HttpMethod,
    HttpTokenFetcher,
    TokenData,
    TokenFetcherInterface,
    TokenFetchPipeline,
)


class Static(TokenFetcherInterface):
    def __init__(self, name, token="static", depends_on=(), ttl=None):
        self._name, self._token, self._deps, self._ttl = name, token, list(depends_on), ttl
        self.calls = []

    @property
    def name(self):
        return self._name

    @property
    def depends_on(self):
        return self._deps

    @property
    def ttl(self):
        return self._ttl

    def fetch(self, context=None):
        self.calls.append(context)
        return TokenData(self._token, "Custom", extra={"n": len(self.calls)})


def test_a_python_fetch_is_a_pipeline_step():
    s = Static("s")
    with TokenFetchPipeline([s]) as p:
        t = p.get("s")
        assert (t.access_token, t.token_type, t.extra["n"]) == ("static", "Custom", "1")
        assert p.get("s") is t and len(s.calls) == 1  # cached
        assert s.calls == [None]


def test_ttl_and_context_of_a_custom_step():
    root = Static("root", "root-token")
    child = Static("child", "child-token", depends_on=["root"], ttl=timedelta(minutes=7))
    with TokenFetchPipeline([child, root]) as p:
        t = p.get("child")
        assert 415 < t.expires_in <= 420
        (ctx,) = child.calls
        assert list(ctx) == ["root"] and ctx["root"].access_token == "root-token"
        assert ctx["root"].extra["n"] == "1"


def test_the_reference_custom_token_fetcher(base):
    class CustomTokenFetcher(HttpTokenFetcher):
        """Custom token fetcher with proprietary logic."""

        def __init__(self, name, api_key, **kwargs):
            super().__init__(**kwargs)
            self._name = name
            self._api_key = api_key
            self._depends_on = []

        @property
        def name(self):
            return self._name

        @property
        def depends_on(self):
            return self._depends_on

        @property
        def ttl(self):
            return timedelta(hours=1)

        def fetch(self, context=None):
            response = self._make_request(method=HttpMethod.POST, endpoint="/custom/auth",
                                          headers={"X-API-Key": self._api_key}, json_data={"action": "authenticate"})
            if not response.is_success:
                raise AuthenticationException(f"Custom auth failed: {response.status_code}", service_name=self._name)
            data = response.json()
            return TokenData(access_token=data["custom_token"], token_type="Custom",
                             expires_at=datetime.now() + timedelta(seconds=data["ttl"]),
                             extra={"session_id": data["session"]})

    fetcher = CustomTokenFetcher(name="custom_token", api_key="your-key", base_url=base, timeout=30.0)
    direct = fetcher.fetch()
    assert direct.access_token.startswith("cust-") and direct.extra["session_id"].startswith("session-")
    assert direct.expires_at.tzinfo is timezone.utc and 3590 < direct.expires_in <= 3600
    with TokenFetchPipeline([fetcher]) as p:
        t = p.get("custom_token")
        assert t.access_token.startswith("cust-") and t.token_type == "Custom"
        assert t.extra["session_id"].startswith("session-")
    bad = CustomTokenFetcher(name="custom_token", api_key="k", base_url=base + "/nowhere")
    with TokenFetchPipeline([bad]) as p:
        with pytest.raises(AuthenticationException) as info:
            p.get("custom_token")
        assert info.value.message == "Custom auth failed: 404" and info.value.service_name == "custom_token"


class Boom(Exception):
    pass


class Failing(Static):
    def __init__(self, name, exc):
        super().__init__(name)
        self.exc = exc
        self.reported = []

    def fetch(self, context=None):
        raise self.exc

    def on_fetch_error(self, error, context=None):
        self.reported.append(error)


def test_an_exception_in_a_custom_fetch_reaches_the_caller_unchanged():
    boom = Boom("custom failure")
    f = Failing("f", boom)
    with TokenFetchPipeline([f, Static("after", depends_on=["f"])]) as p:
        with pytest.raises(Boom) as info:
            p.get("f")
        assert info.value is boom
        assert f.reported == [boom]
        with pytest.raises(DependencyError) as dep:
            p.get("after")
        assert dep.value.__cause__ is boom and dep.value.step in ("after", "f")


def test_a_custom_fetch_returning_no_token():
    class Wrong(Static):
        def fetch(self, context=None):
            return "not a token"

    with TokenFetchPipeline([Wrong("w")]) as p:
        with pytest.raises(TypeError, match="not TokenData"):
            p.get("w")


def test_a_library_fetcher_with_its_own_fetch(base):
    # The reference's "Validate Context" best practice: a fetch override calling super().
    class Validating(BodyTokenFetcher):
        calls = 0

        def fetch(self, context=None):
            type(self).calls += 1
            for dep in self.depends_on:
                if not context or dep not in context:
                    raise ValueError(f"Missing dependency: {dep}")
            return super().fetch(context)

    device = HeaderTokenFetcher("device_token", base, "/device/register", request_headers={"X-Device-ID": "d"},
                                token_header="X-Device-Token")
    user = Validating("user", base, "/user/auth", request_headers={"X-Device-Token": "{{device_token.access_token}}"},
                      depends_on=["device_token"])
    with TokenFetchPipeline([device, user]) as p:
        assert p.get("user").access_token.startswith("user-") and Validating.calls == 1
    with pytest.raises(ValueError, match="Missing dependency: device_token"):
        user.fetch()
