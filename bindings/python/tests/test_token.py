"""TokenData: immutable, aware UTC expiry, no secret in its repr, and the library's tokens."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import tokenforge
from tokenforge import BodyTokenFetcher, InvalidArgumentError, TokenData


def test_fields_and_defaults():
    t = TokenData("abc")
    assert (t.access_token, t.token_type, t.expires_at, t.refresh_token, t.scope) == ("abc", "Bearer", None, None, None)
    assert dict(t.extra) == {}
    assert t.authorization_header == "Bearer abc"
    assert not t.is_expired
    assert t.expires_in is None


def test_repr_and_str_hide_the_tokens():
    t = TokenData("secret-access-1", refresh_token="secret-refresh-1", scope="read")
    for text in (repr(t), str(t), f"{t}"):
        assert "secret-access-1" not in text and "secret-refresh-1" not in text
        assert "<redacted>" in text and "read" in text


def test_immutable():
    t = TokenData("abc")
    with pytest.raises(AttributeError):
        t.access_token = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        t._access_token = "x"  # type: ignore[attr-defined]
    assert t.access_token == "abc"


def test_naive_datetime_is_local_time_and_becomes_aware_utc():
    # The reference mixes datetime.now() and datetime.utcnow(); here a naive value is local.
    naive = datetime.now() + timedelta(hours=1)
    t = TokenData("abc", expires_at=naive)
    assert t.expires_at is not None and t.expires_at.tzinfo is timezone.utc
    assert abs((t.expires_at - naive.astimezone(timezone.utc)).total_seconds()) < 0.002
    assert 3590 < t.expires_in < 3601


def test_aware_datetime_kept_in_utc_to_the_millisecond():
    cet = timezone(timedelta(hours=1))
    t = TokenData("abc", expires_at=datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=cet))
    assert t.expires_at == datetime(2030, 1, 1, 11, 0, 0, 123000, tzinfo=timezone.utc)


def test_is_expired_has_the_reference_buffer_of_30_seconds():
    now = datetime.now(timezone.utc)
    assert TokenData("a", expires_at=now + timedelta(seconds=10)).is_expired
    assert TokenData("a", expires_at=now - timedelta(seconds=1)).is_expired
    assert not TokenData("a", expires_at=now + timedelta(seconds=120)).is_expired


def test_expires_at_must_be_a_datetime():
    with pytest.raises(TypeError):
        TokenData("a", expires_at=12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TokenData(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw,expected", [(3600, 3600), (3600.5, 3600.5), ("120", 120), (None, None), ("abc", None),
                                          (0, None), (-5, None)])
def test_from_response_is_lenient_about_expires_in(raw, expected):
    t = TokenData.from_response({"access_token": "a", "expires_in": raw, "token_type": None, "id_token": "i"})
    assert t.token_type == "Bearer"
    assert t.extra["id_token"] == "i"
    if expected is None:
        assert t.expires_at is None
    else:
        assert abs(t.expires_in - expected) < 2


def test_from_response_needs_a_token():
    with pytest.raises(InvalidArgumentError):
        TokenData.from_response({"access_token": ""})


def test_to_dict_round_trip():
    t = TokenData("a", "MAC", datetime.now(timezone.utc) + timedelta(minutes=5), "r", "s", {"n": 5})
    back = TokenData.from_dict(t.to_dict())
    assert back == t and back.extra["n"] == 5
    assert hash(back) == hash(t)
    assert TokenData("a") != TokenData("b")


def test_library_tokens(base):
    t = BodyTokenFetcher(name="cc", base_url=base, endpoint="/oauth/token",
                         request_data={"grant_type": "client_credentials", "client_id": "app",
                                       "client_secret": "app-secret", "scope": "read offline"}).fetch()
    assert t.access_token.startswith("cc-") and t.token_type == "Bearer"
    assert t.expires_at.tzinfo is timezone.utc and 3590 < t.expires_in <= 3600
    assert t.refresh_token.startswith("rt-") and t.scope == "read offline"
    assert t.extra["client"] == "app" and t.extra.get("client_auth") == "body"
    assert "missing" not in t.extra and t.extra.get("missing") is None
    with pytest.raises(KeyError):
        t.extra["missing"]
    assert t.authorization_header == f"Bearer {t.access_token}"
    assert t.access_token not in repr(t)


def test_python_token_goes_into_the_library_with_its_extras(base):
    echo = BodyTokenFetcher(name="echo", base_url=base, endpoint="/echo", depends_on=["up"],
                            request_headers={"X-Up": "{{up.authorization}}", "X-Session": "{{up.session}}"})
    t = echo.fetch({"up": TokenData("up-token", "Custom", extra={"session": "s-9"})})
    assert t.extra["header.x-up"] == "Custom up-token"
    assert t.extra["header.x-session"] == "s-9"


def test_a_token_the_library_refuses(base):
    echo = BodyTokenFetcher(name="echo", base_url=base, endpoint="/echo", depends_on=["up"])
    with pytest.raises(InvalidArgumentError):
        echo.fetch({"up": TokenData("bad\r\ntoken")})


def test_version_matches_the_library():
    assert tokenforge.__version__ == tokenforge.library_version()


def test_the_library_is_loaded_by_the_packaged_files_path():
    override = os.environ.get("TOKENFORGE_LIBRARY")
    expected = Path(override) if override else Path(tokenforge.__file__).resolve().parent / "_native" / "libtokenforge.so"
    assert Path(tokenforge.library_path()) == expected and expected.is_file()
    with open(f"/proc/{os.getpid()}/maps") as maps:
        assert str(expected.resolve()) in maps.read()
