"""The Python package against a real identity provider (run by check.sh).

Usage: peer_python.py LABEL TOKEN_URL SCOPE; prints "ok    LABEL: ..." or "FAIL  LABEL: ..."
per check and exits non-zero when one failed. The package is imported from the checkout
(bindings/python/src) with TOKENFORGE_LIBRARY naming target/release/libtokenforge.so.
"""

from __future__ import annotations

import base64
import sys
import time
import traceback

from tokenforge import (
    BodyTokenFetcher,
    ClientCredentialsTokenFetcher,
    OAuthError,
    TokenFetchPipeline,
    TokenRefreshOAuthError,
    refresh_oauth2_token,
)

label, token_url, scope = sys.argv[1:4]
failed = 0


def check(what):
    def run(fn):
        global failed
        try:
            fn()
            print(f"ok    {label}: python: {what}", flush=True)
        except BaseException:  # noqa: BLE001 - report and go on
            failed += 1
            print(f"FAIL  {label}: python: {what}", flush=True)
            print("      " + traceback.format_exc().replace("\n", "\n      "), flush=True)
        return fn

    return run


@check("ClientCredentialsTokenFetcher, HTTP Basic, and a secret that needs RFC 6749 2.3.1 encoding")
def _():
    t = ClientCredentialsTokenFetcher("svc", token_url, "svc", "svc-secret").fetch()
    assert t.access_token and t.token_type == "Bearer" and t.expires_in > 0
    x = ClientCredentialsTokenFetcher("svc", token_url, "svc-x", "x+y/z:%41&=? ~!").fetch()
    assert x.access_token != t.access_token
    try:
        ClientCredentialsTokenFetcher("svc", token_url, "svc", "wrong-secret", max_attempts=1).fetch()
        raise AssertionError("a wrong secret was accepted")
    except OAuthError as e:
        assert e.oauth_error in ("invalid_client", "unauthorized_client") and "wrong-secret" not in str(e)


@check("pipeline: one fetch for repeated gets, invalidate_if refetches")
def _():
    with TokenFetchPipeline([ClientCredentialsTokenFetcher("api", token_url, "svc", "svc-secret")]) as p:
        first = p.get("api")
        assert p.get("api") is first
        assert p.invalidate_if("api", first.access_token)
        assert p.get("api").access_token != first.access_token


def password_token():
    basic = base64.b64encode(b"app:app-secret").decode()
    return BodyTokenFetcher("user", token_url, "", request_headers={"Authorization": f"Basic {basic}"},
                            request_data={"grant_type": "password", "username": "alice", "password": "alice-pw",
                                          "scope": scope}).fetch()


@check("BodyTokenFetcher password grant, refresh_oauth2_token rotating, reuse refused with RFC 6749 fields")
def _():
    user = password_token()
    assert user.refresh_token and not {"access_token", "refresh_token", "token_type"} & set(user.extra)
    if "id_token" in user.extra:  # Keycloak sends one for scope openid
        assert user.extra["id_token"].count(".") == 2
    time.sleep(1.1)  # Keycloak tells a reused refresh token by its issue time, in seconds
    new = refresh_oauth2_token(user.refresh_token, token_url, client_id="app", client_secret="app-secret")
    assert new["access_token"] != user.access_token and new["expires_in"] > 0
    assert new["refresh_token"] and new["refresh_token"] != user.refresh_token  # rotated
    time.sleep(1.1)
    again = refresh_oauth2_token(new["refresh_token"], token_url, "app", "app-secret", extra_params={"scope": scope})
    assert again["access_token"] != new["access_token"]
    try:
        refresh_oauth2_token(user.refresh_token, token_url, client_id="app", client_secret="app-secret")
        raise AssertionError("a used refresh token was accepted")
    except TokenRefreshOAuthError as e:
        assert e.error == "invalid_grant" and e.status_code == 400, (e.error, e.status_code)
        assert user.refresh_token not in str(e) and user.refresh_token not in repr(e)


sys.exit(1 if failed else 0)
