"""HeaderTokenFetcher, BodyTokenFetcher and ClientCredentialsTokenFetcher: the reference's
constructors, and the reference's bugs fixed."""

from __future__ import annotations

import inspect
import json
import socket
import time
from datetime import timedelta

import pytest

import tokenforge
from tokenforge import (
    AuthenticationException,
    BodyTokenFetcher,
    ClientCredentialsTokenFetcher,
    ConfigError,
    DependencyError,
    HeaderTokenFetcher,
    HTTPStatusError,
    HttpMethod,
    InvalidArgumentError,
    OAuthError,
    RequestTimeoutError,
    ResponseError,
    TokenData,
    TransportError,
)


def _defaults(cls):
    params = inspect.signature(cls.__init__).parameters.values()
    return [(p.name, p.default) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD][1:]


def test_header_fetcher_has_the_reference_constructor():
    empty = inspect.Parameter.empty
    assert _defaults(HeaderTokenFetcher) == [
        ("name", empty), ("base_url", empty), ("endpoint", empty), ("method", "POST"), ("request_headers", None),
        ("request_data", None), ("token_header", "Authorization"), ("token_type", "Bearer"), ("ttl", None),
        ("timeout", 30.0), ("verify_ssl", True), ("depends_on", None)]


def test_body_fetcher_has_the_reference_constructor():
    empty = inspect.Parameter.empty
    assert _defaults(BodyTokenFetcher) == [
        ("name", empty), ("base_url", empty), ("endpoint", empty), ("method", "POST"), ("request_headers", None),
        ("request_data", None), ("content_type", "form"), ("token_field", "access_token"),
        ("token_type_field", "token_type"), ("expires_in_field", "expires_in"),
        ("refresh_token_field", "refresh_token"), ("default_token_type", "Bearer"), ("ttl", None),
        ("timeout", 30.0), ("verify_ssl", True), ("depends_on", None)]


def test_properties(base):
    f = BodyTokenFetcher("s", base, "/oauth/token", ttl=timedelta(minutes=5), depends_on=["a"])
    assert (f.name, f.depends_on, f.ttl) == ("s", ["a"], timedelta(minutes=5))
    assert HeaderTokenFetcher("h", base, "/x", ttl=90).ttl == timedelta(seconds=90)


def test_header_names_are_matched_case_insensitively(base):
    # The reference reads response.headers.get(token_header) as written.
    for header in ("X-Device-Token", "x-device-token", "X-DEVICE-TOKEN"):
        t = HeaderTokenFetcher("dev", base, "/device/register", request_headers={"X-Device-ID": "d"},
                               token_header=header).fetch()
        assert t.access_token.startswith("dev-")


def test_header_token_type_prefix_is_stripped(base):
    t = HeaderTokenFetcher("h", base, "/header-token", token_header="X-Auth-Token").fetch()
    assert t.access_token.startswith("hdr-") and t.authorization_header == f"Bearer {t.access_token}"
    s = HeaderTokenFetcher("s", base, "/auth/session", request_headers={"X-API-Key": "k"},
                           token_header="X-Session-Token", token_type="Session", ttl=timedelta(hours=24)).fetch()
    assert s.access_token.startswith("sess-") and s.token_type == "Session"
    assert 86390 < s.expires_in <= 86400


def test_get_sends_the_data_in_the_query_string(base):
    t = BodyTokenFetcher("g", base, "/echo", method="GET", request_data={"a": "1", "b": "x y"}).fetch()
    assert t.extra["method"] == "GET" and t.extra["query"] == "a=1&b=x+y" and t.extra["body"] == ""


def test_header_fetcher_with_get_sends_its_data(base):
    # The reference's HeaderTokenFetcher drops request_data with GET. /echo describes the
    # request in its body, so its Content-Length grows by the query string's length.
    def length(data):
        f = HeaderTokenFetcher("g", base, "/echo", method="GET", request_data=data, token_header="Content-Length")
        return int(f.fetch().access_token)

    assert length({"a": "1", "b": "x y"}) - length(None) == len("a=1&b=x+y")


def test_header_fetcher_posts_its_data(base):
    t = BodyTokenFetcher("p", base, "/echo", method=HttpMethod.POST, request_data={"a": "1"}).fetch()
    assert t.extra["method"] == "POST" and t.extra["body"] == "a=1"
    assert t.extra["content_type"] == "application/x-www-form-urlencoded"


def test_json_content_type(base):
    t = BodyTokenFetcher("j", base, "/echo", content_type="json", request_data={"username": "u", "n": 5,
                                                                               "nested": {"a": [1]}}).fetch()
    assert t.extra["content_type"] == "application/json"
    assert json.loads(t.extra["body"]) == {"username": "u", "n": 5, "nested": {"a": [1]}}


def test_custom_field_names_and_nested_paths(base):
    t = BodyTokenFetcher("n", base, "/nested", token_field="data.auth.token", token_type_field="data.auth.type",
                         expires_in_field="data.auth.ttl", default_token_type="Other").fetch()
    assert t.access_token.startswith("nested-") and t.token_type == "Custom"
    assert 110 < t.expires_in <= 120  # "120", a string: the reference's int() would do, a float string not
    d = BodyTokenFetcher("d", base, "/v1/app/token", token_field="token", default_token_type="Custom",
                         request_data={"client_id": "a", "client_secret": "a-secret"}).fetch()
    assert d.token_type == "Custom" and d.access_token.startswith("app-")


def test_ttl_overrides_expires_in(base):
    t = BodyTokenFetcher("t", base, "/v1/app/token", token_field="token", ttl=timedelta(minutes=30),
                         request_data={"client_id": "a", "client_secret": "a-secret"}).fetch()
    assert 1790 < t.expires_in <= 1800


def test_oauth_error(base):
    with pytest.raises(OAuthError) as info:
        BodyTokenFetcher("test_token", base, "/oauth-error/401/invalid_client", request_data={"client_id": "t"}).fetch()
    e = info.value
    assert isinstance(e, AuthenticationException)
    assert e.oauth_error == "invalid_client" and e.oauth_description == "described invalid_client"
    assert e.http_status == 401 and e.status_code == 401 and e.step == "test_token" == e.service_name
    assert not e.retryable and e.retry_after is None and e.code == 6 and e.code_name == "OAUTH"
    assert "invalid_client" in str(e) and e.message == str(e)


def test_http_status_errors(base):
    with pytest.raises(HTTPStatusError) as info:
        BodyTokenFetcher("s", base, "/status/404").fetch()
    assert info.value.http_status == 404 and not info.value.retryable
    with pytest.raises(HTTPStatusError) as info:
        BodyTokenFetcher("s", base, "/status/503", retry_delay=0.01).fetch()
    assert info.value.http_status == 503 and info.value.retryable


def test_retry_after(base, unique):
    with pytest.raises(HTTPStatusError) as info:
        BodyTokenFetcher("r", base, f"/ratelimit/{unique}/2", max_attempts=1).fetch()
    assert info.value.http_status == 429 and info.value.retry_after == 2.0
    began = time.monotonic()
    t = BodyTokenFetcher("r", base, f"/ratelimit/{unique}b/1").fetch()  # waits as asked, then succeeds
    assert t.access_token.startswith("rl-") and time.monotonic() - began >= 0.9


def test_retries_until_the_server_recovers(base, unique):
    t = BodyTokenFetcher("f", base, f"/flaky/{unique}/2", retry_delay=0.01).fetch()
    assert t.access_token.startswith("flaky-")


@pytest.mark.parametrize("route", ["/malformed/not-json", "/malformed/null-token", "/malformed/html"])
def test_bad_answers(base, route):
    with pytest.raises(ResponseError):
        BodyTokenFetcher("m", base, route).fetch()


def test_missing_header(base):
    with pytest.raises(ResponseError):
        HeaderTokenFetcher("h", base, "/header-token", token_header="X-Other").fetch()


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransportError) as info:
        BodyTokenFetcher("c", f"http://127.0.0.1:{port}", "/t", max_attempts=1).fetch()
    assert isinstance(info.value, ConnectionError) and info.value.retryable


def test_timeout(base):
    began = time.monotonic()
    with pytest.raises(RequestTimeoutError) as info:
        BodyTokenFetcher("slow", base, "/slow/3000", timeout=0.3).fetch()
    assert isinstance(info.value, TimeoutError)
    assert time.monotonic() - began < 2


def test_redirects_are_not_followed(base):
    with pytest.raises(HTTPStatusError) as info:
        BodyTokenFetcher("r", base, "/redirect", request_data={"client_secret": "s3cret"}).fetch()
    assert info.value.http_status == 302


def test_no_secret_in_messages(base):
    secret = "very-secret-value-42"
    fetchers = [
        BodyTokenFetcher("b", base, "/oauth-error/400/invalid_request", request_data={"client_secret": secret},
                         request_headers={"X-Key": secret}),
        BodyTokenFetcher("b", base, "/status/500", request_data={"password": secret}, max_attempts=1),
        ClientCredentialsTokenFetcher("cc", f"{base}/oauth/token", "app", secret),
        HeaderTokenFetcher("h", base, "/status/401", request_headers={"Authorization": f"Bearer {secret}"}),
    ]
    for f in fetchers:
        with pytest.raises(AuthenticationException) as info:
            f.fetch()
        for text in (str(info.value), repr(info.value), repr(f), str(info.value.__dict__)):
            assert secret not in text


def test_client_credentials(base):
    basic = ClientCredentialsTokenFetcher("cc", f"{base}/oauth/token", "app", "app-secret", "read").fetch()
    assert basic.extra["client_auth"] == "basic" and basic.scope == "read"
    body = ClientCredentialsTokenFetcher("cc", f"{base}/oauth/token", "app", "app-secret", client_auth="body").fetch()
    assert body.extra["client_auth"] == "body"
    # extra lists the response's other fields, by name; scope has its own attribute
    assert dict(basic.extra) == {"client_auth": "basic", "client": "app"} and len(basic.extra) == 2
    assert list(body.extra) == ["client", "client_auth"] and "scope" not in body.extra
    assert basic.to_dict()["extra"] == {"client_auth": "basic", "client": "app"}
    with pytest.raises(OAuthError) as info:
        ClientCredentialsTokenFetcher("cc", f"{base}/oauth/token", "app", "wrong").fetch()
    assert info.value.oauth_error == "invalid_client"


def test_bad_options():
    with pytest.raises(ValueError):
        BodyTokenFetcher("x", "http://127.0.0.1:1", "/t", content_type="xml")
    with pytest.raises(InvalidArgumentError):
        BodyTokenFetcher("x", "not a url", "/t")
    with pytest.raises(InvalidArgumentError):
        BodyTokenFetcher("x", "http://127.0.0.1:1", "/t", method="DELETE")
    with pytest.raises(InvalidArgumentError):
        HeaderTokenFetcher("x", "http://127.0.0.1:1", "/t", request_headers={"Bad Name": "v"})
    with pytest.raises(ConfigError) as info:
        BodyTokenFetcher("x", "http://127.0.0.1:1", "/t", request_headers={"X": "{{other.access_token}}"})
    assert isinstance(info.value, ValueError)


def test_missing_dependency_in_context(base):
    f = BodyTokenFetcher("u", base, "/echo", depends_on=["app_token"])
    with pytest.raises(DependencyError):
        f.fetch()
    with pytest.raises(DependencyError):
        f.fetch({"other": TokenData("x")})
    assert f.fetch({"app_token": TokenData("x")}).access_token == "echo-token"


def test_on_fetch_error_is_called_with_the_error_and_context(base):
    seen = []

    class Robust(BodyTokenFetcher):
        def on_fetch_error(self, error, context=None):
            seen.append((error, context))

    ctx = {"app_token": TokenData("a")}
    f = Robust("robust_token", base, "/status/400", request_data={"client_id": "id"}, depends_on=["app_token"])
    with pytest.raises(HTTPStatusError) as info:
        f.fetch(ctx)
    assert len(seen) == 1
    error, context = seen[0]
    assert isinstance(error, HTTPStatusError) and error.http_status == 400 and error.step == "robust_token"
    assert context == ctx and context["app_token"] is ctx["app_token"]
    assert info.value.message == error.message


def test_an_exception_in_on_fetch_error_is_logged_not_raised(base, caplog):
    class Bad(BodyTokenFetcher):
        def on_fetch_error(self, error, context=None):
            raise RuntimeError("from on_fetch_error")

    with pytest.raises(HTTPStatusError):
        Bad("bad", base, "/status/404").fetch()
    assert "on_fetch_error" in caplog.text


def test_the_default_on_fetch_error_logs(base, caplog):
    with pytest.raises(HTTPStatusError):
        BodyTokenFetcher("logged", base, "/status/404").fetch()
    assert "Token fetch failed for logged" in caplog.text


def test_close_and_context_manager(base):
    with BodyTokenFetcher("c", base, "/echo") as f:
        assert f.fetch().access_token == "echo-token"
    f.close()
    f.close()
    assert f.fetch().access_token == "echo-token"  # usable again, as the reference's


def test_query_params_and_ca_file(base, tmp_path):
    t = BodyTokenFetcher("q", base, "/echo", query_params={"tenant": "t1"}).fetch()
    assert t.extra["query"] == "tenant=t1"
    with pytest.raises(InvalidArgumentError):
        BodyTokenFetcher("q", base, "/echo", ca_file=str(tmp_path / "absent.pem"))


def test_fetchers_share_between_threads(base):
    from concurrent.futures import ThreadPoolExecutor

    f = BodyTokenFetcher("t", base, "/v1/app/token", token_field="token",
                         request_data={"client_id": "a", "client_secret": "a-secret"})
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda _: f.fetch().access_token, range(40)))
    assert len(set(tokens)) == 40 and all(t.startswith("app-") for t in tokens)


def test_everything_is_exported():
    for name in tokenforge.__all__:
        assert hasattr(tokenforge, name), name
