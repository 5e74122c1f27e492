"""refresh_oauth2_token: apiconfig's function over tokenforge_oauth2_refresh."""

from __future__ import annotations

import socket
from datetime import timezone

import pytest

from tokenforge import (
    ClientCredentialsTokenFetcher,
    InvalidArgumentError,
    TokenRefreshError,
    TokenRefreshHTTPError,
    TokenRefreshJsonError,
    TokenRefreshNetworkError,
    TokenRefreshOAuthError,
    TokenRefreshTimeoutError,
    refresh_oauth2_token,
)


def a_refresh_token(base, client="app"):
    t = ClientCredentialsTokenFetcher("cc", f"{base}/oauth/token", client, f"{client}-secret", "offline").fetch()
    return t.refresh_token


def test_refresh_rotates_and_returns_the_response_fields(base):
    rt = a_refresh_token(base)
    new = refresh_oauth2_token(rt, f"{base}/oauth/token", client_id="app", client_secret="app-secret")
    assert new["access_token"].startswith("rf-") and new["token_type"] == "Bearer"
    assert 3590 <= new["expires_in"] <= 3600 and new["expires_at"].tzinfo is timezone.utc
    assert new["refresh_token"].startswith("rt-") and new["refresh_token"] != rt
    # the used refresh token is refused now, as real servers do
    with pytest.raises(TokenRefreshOAuthError) as info:
        refresh_oauth2_token(rt, f"{base}/oauth/token", client_id="app", client_secret="app-secret")
    e = info.value
    assert isinstance(e, TokenRefreshError) and e.error == "invalid_grant" and e.oauth_error == "invalid_grant"
    assert e.error_description == "refresh token is invalid or expired" and e.status_code == 400
    assert rt not in str(e) and rt not in repr(e)


def test_a_refresh_token_kept_when_not_rotated(base):
    new = refresh_oauth2_token("rt-static", f"{base}/oauth/token", client_id="x", client_secret="x-secret")
    assert new["refresh_token"] == "rt-static"


def test_bad_client_secret_never_shown(base):
    with pytest.raises(TokenRefreshOAuthError) as info:
        refresh_oauth2_token("rt-static", f"{base}/oauth/token", client_id="app", client_secret="s3cret-wrong")
    assert info.value.error == "invalid_client" and "s3cret-wrong" not in str(info.value)


def test_public_client_and_extra_params(base):
    rt = a_refresh_token(base, "pub")
    new = refresh_oauth2_token(rt, f"{base}/oauth/token", client_id="pub", extra_params={"scope": "read"})
    assert new["access_token"].startswith("rf-") and new["refresh_token"] != rt
    new2 = refresh_oauth2_token("rt-static", f"{base}/oauth/token", client_id="pub", client_secret="pub-secret",
                                extra_params={"audience": "api"})
    assert new2["access_token"].startswith("rf-") and new2["refresh_token"] == "rt-static"
    with pytest.raises(TokenRefreshOAuthError) as info:
        refresh_oauth2_token("rt-static", f"{base}/oauth/token")  # no client at all
    assert info.value.error == "invalid_client"


def test_every_response_field_is_returned(base):
    # /echo answers with a token whose extra fields describe the request it got
    new = refresh_oauth2_token("rt-kept", f"{base}/echo", client_id="pub", extra_params={"audience": "api"})
    assert new["method"] == "POST" and new["content_type"] == "application/x-www-form-urlencoded"
    assert dict(p.split("=") for p in new["body"].split("&")) == {
        "grant_type": "refresh_token", "refresh_token": "rt-kept", "audience": "api", "client_id": "pub"}
    assert new["refresh_token"] == "rt-kept"  # not rotated: the one given


def test_network_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TokenRefreshNetworkError) as info:
        refresh_oauth2_token("rt", f"http://127.0.0.1:{port}/token", client_id="a", client_secret="b", timeout=2)
    assert isinstance(info.value, ConnectionError)


def test_timeout(base):
    with pytest.raises(TokenRefreshTimeoutError) as info:
        refresh_oauth2_token("rt", f"{base}/slow/3000", client_id="a", client_secret="b", timeout=0.3)
    assert isinstance(info.value, TimeoutError)


def test_json_error(base):
    with pytest.raises(TokenRefreshJsonError):
        refresh_oauth2_token("rt", f"{base}/malformed/not-json", client_id="a", client_secret="b")


def test_http_error_after_retries(base):
    with pytest.raises(TokenRefreshHTTPError) as info:
        refresh_oauth2_token("rt", f"{base}/status/503", client_id="a", client_secret="b", timeout=5)
    assert info.value.status_code == 503 and info.value.retryable


def test_retried_until_the_server_recovers(base, unique):
    new = refresh_oauth2_token("rt", f"{base}/flaky/{unique}/1", client_id="a", client_secret="b")
    assert new["access_token"].startswith("flaky-")


def test_timeout_from_client_config(base):
    class ClientConfig:
        timeout = 0.3
        retries = 1

    with pytest.raises(TokenRefreshTimeoutError):
        refresh_oauth2_token("rt", f"{base}/slow/3000", client_id="a", client_secret="b", client_config=ClientConfig())


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError):
        refresh_oauth2_token("", "http://127.0.0.1:1/t", client_id="a")
    with pytest.raises(InvalidArgumentError):
        refresh_oauth2_token("rt", "not a url", client_id="a")
