"""_build_request_headers and _build_request_data on both fetcher kinds (through the library's
request hook), and Python exceptions raised in them."""

from __future__ import annotations

import json
import threading

import pytest

from tokenforge import (
    BodyTokenFetcher,
    CallbackError,
    DependencyError,
    HeaderTokenFetcher,
    TokenData,
    TokenFetchPipeline,
)


class HeaderFromContext(BodyTokenFetcher):
    def _build_request_headers(self, context):
        headers = super()._build_request_headers(context)
        if context and "device_token" in context:
            headers["X-Device-Token"] = context["device_token"].access_token
        return headers


class DataFromContext(HeaderTokenFetcher):
    def _build_request_data(self, context):
        data = super()._build_request_data(context)
        if context and "app_token" in context:
            data["app_token"] = context["app_token"].access_token
        return data


def test_build_request_headers_on_a_body_fetcher(base):
    # The reference's BodyTokenFetcher never calls _build_request_headers (its own page's
    # examples override it there).
    f = HeaderFromContext("e", base, "/echo", request_headers={"X-Base": "1"}, depends_on=["device_token"])
    t = f.fetch({"device_token": TokenData("dev-9")})
    assert t.extra["header.x-device-token"] == "dev-9" and t.extra["header.x-base"] == "1"


def test_build_request_headers_on_a_header_fetcher(base):
    class CustomHeaderFetcher(HeaderTokenFetcher):
        def _build_request_headers(self, context):
            headers = super()._build_request_headers(context)
            if context and "device_token" in context:
                headers["X-Device-Token"] = context["device_token"].access_token
            return headers

    f = CustomHeaderFetcher("app_token", base, "/echo", method="POST", token_header="Content-Length",
                            depends_on=["device_token"])
    short = int(f.fetch({"device_token": TokenData("d")}).access_token)
    longer = int(f.fetch({"device_token": TokenData("d" * 11)}).access_token)
    assert longer - short == 10  # the header reached the server


def test_build_request_data_on_a_header_fetcher(base):
    # The reference's HeaderTokenFetcher never calls _build_request_data.
    f = DataFromContext("h", base, "/echo", request_data={"username": "u"}, token_header="Content-Length",
                        depends_on=["app_token"])
    short = int(f.fetch({"app_token": TokenData("a")}).access_token)
    longer = int(f.fetch({"app_token": TokenData("a" * 6)}).access_token)
    assert longer - short == 5


def test_build_request_data_on_a_body_fetcher_form_and_json(base):
    class UserTokenFetcher(BodyTokenFetcher):
        def _build_request_data(self, context):
            data = super()._build_request_data(context)
            if context and "app_token" in context:
                data["app_token"] = context["app_token"].access_token
            data.pop("drop", None)
            return data

    ctx = {"app_token": TokenData("app-1")}
    form = UserTokenFetcher("u", base, "/echo", request_data={"username": "user", "drop": "x"},
                            depends_on=["app_token"]).fetch(ctx)
    assert form.extra["body"] == "username=user&app_token=app-1"
    js = UserTokenFetcher("u", base, "/echo", content_type="json", request_data={"username": "user", "n": 1},
                          depends_on=["app_token"]).fetch(ctx)
    assert json.loads(js.extra["body"]) == {"username": "user", "n": 1, "app_token": "app-1"}


def test_removing_a_header(base):
    class NoBase(BodyTokenFetcher):
        def _build_request_headers(self, context):
            return {"X-Other": "2"}

    t = NoBase("r", base, "/echo", request_headers={"X-Base": "1"}).fetch()
    assert "header.x-base" not in t.extra and t.extra["header.x-other"] == "2"


def test_hooks_see_the_callers_own_tokens(base):
    seen = []

    class Spy(BodyTokenFetcher):
        def _build_request_headers(self, context):
            seen.append(context)
            return super()._build_request_headers(context)

    token = TokenData("x", extra={"k": 1})
    Spy("s", base, "/echo").fetch({"mine": token, "more": TokenData("y")})
    assert seen[0]["mine"] is token and set(seen[0]) == {"mine", "more"}
    Spy("s", base, "/echo").fetch()
    assert seen[1] is None


def test_dependency_injection_in_a_pipeline(base):
    class DependentTokenFetcher(BodyTokenFetcher):
        def _build_request_headers(self, context):
            headers = super()._build_request_headers(context)
            if context:
                if "device_token" in context:
                    headers["X-Device"] = context["device_token"].access_token
                if "app_token" in context:
                    headers["X-App"] = context["app_token"].access_token
            return headers

        def _build_request_data(self, context):
            data = super()._build_request_data(context)
            if context and "session_token" in context:
                data["session"] = context["session_token"].access_token
            return data

    steps = [
        DependentTokenFetcher("final_token", base, "/echo", request_data={"username": "user"},
                              depends_on=["device_token", "app_token", "session_token"]),
        HeaderTokenFetcher("device_token", base, "/device/register", request_headers={"X-Device-ID": "d"},
                           token_header="X-Device-Token"),
        BodyTokenFetcher("app_token", base, "/v1/app/token", token_field="token",
                         request_data={"client_id": "a", "client_secret": "a-secret"}),
        HeaderTokenFetcher("session_token", base, "/auth/session", request_headers={"X-API-Key": "k"},
                           token_header="X-Session-Token", token_type="Session"),
    ]
    with TokenFetchPipeline(steps) as pipeline:
        final = pipeline.get("final_token")
        assert final.extra["header.x-device"] == pipeline.get("device_token").access_token
        assert final.extra["header.x-app"] == pipeline.get("app_token").access_token
        assert final.extra["body"] == f"username=user&session={pipeline.get('session_token').access_token}"


class Boom(Exception):
    pass


def test_an_exception_in_a_request_hook_reaches_the_caller_unchanged(base, hits):
    boom = Boom("no headers today")

    class Failing(BodyTokenFetcher):
        def _build_request_headers(self, context):
            raise boom

    before = hits("/status/201")
    f = Failing("f", base, "/status/201")
    with pytest.raises(Boom) as info:
        f.fetch()
    assert info.value is boom
    assert hits("/status/201") == before  # nothing was sent


def test_a_base_exception_in_a_hook_does_not_crash(base):
    class Interrupted(BodyTokenFetcher):
        def _build_request_data(self, context):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Interrupted("i", base, "/echo").fetch()


def test_a_tokenforge_error_raised_in_a_hook_keeps_its_code(base):
    class Refusing(BodyTokenFetcher):
        def _build_request_data(self, context):
            raise CallbackError("refused by policy")

    with pytest.raises(CallbackError) as info:
        Refusing("r", base, "/echo").fetch()
    assert str(info.value) == "refused by policy"


def test_a_bad_value_from_a_hook(base):
    class BadHeader(BodyTokenFetcher):
        def _build_request_headers(self, context):
            return {"X-Bad": "a\r\nInjected: 1"}

    with pytest.raises(ValueError):
        BadHeader("b", base, "/echo").fetch()


def test_hook_exceptions_on_library_threads_reach_the_caller(base):
    # Independent dependencies are fetched in parallel on library threads.
    boom = Boom("on a library thread")
    threads = []

    class Failing(BodyTokenFetcher):
        def _build_request_headers(self, context):
            threads.append(threading.get_ident())
            raise boom

    steps = [
        BodyTokenFetcher("top", base, "/echo", depends_on=["left", "right"]),
        Failing("left", base, "/echo"),
        BodyTokenFetcher("right", base, "/slow/50"),
    ]
    with TokenFetchPipeline(steps) as pipeline:
        with pytest.raises(DependencyError) as info:
            pipeline.get("top")
        assert info.value.__cause__ is boom
        with pytest.raises(Boom) as direct:
            pipeline.get("left")
        assert direct.value is boom
    assert threads
