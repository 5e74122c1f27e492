"""The exception classes: one per result code, the reference designs' names and fields."""

from __future__ import annotations

import pytest

import tokenforge
from tokenforge import errors


@pytest.mark.parametrize("code,cls", [
    (1, tokenforge.InvalidArgumentError), (2, tokenforge.ConfigError), (3, tokenforge.TransportError),
    (4, tokenforge.RequestTimeoutError), (5, tokenforge.HTTPStatusError), (6, tokenforge.OAuthError),
    (7, tokenforge.ResponseError), (8, tokenforge.DependencyError), (9, tokenforge.CallbackError),
    (10, tokenforge.StorageError), (11, tokenforge.TLSError), (99, tokenforge.PanicError),
])
def test_one_class_per_code(code, cls):
    assert errors.class_for(code) is cls and cls.default_code == code
    assert issubclass(cls, tokenforge.AuthenticationException)
    assert errors.result_name(code) == cls(code=code).code_name != "UNKNOWN"


def test_refresh_classes():
    assert errors.class_for(6, refresh=True) is tokenforge.TokenRefreshOAuthError
    assert errors.class_for(3, refresh=True) is tokenforge.TokenRefreshNetworkError
    assert errors.class_for(4, refresh=True) is tokenforge.TokenRefreshTimeoutError
    assert errors.class_for(7, refresh=True) is tokenforge.TokenRefreshJsonError
    assert errors.class_for(11, refresh=True) is tokenforge.TokenRefreshTLSError
    assert errors.class_for(1, refresh=True) is tokenforge.InvalidArgumentError
    assert issubclass(tokenforge.TokenRefreshOAuthError, tokenforge.OAuthError)
    assert issubclass(tokenforge.TokenRefreshTLSError, tokenforge.TokenRefreshNetworkError)
    assert errors.result_name(12345) == "UNKNOWN" and errors.result_name(-1) == "UNKNOWN"


def test_the_reference_constructor():
    cause = KeyError("x")
    e = tokenforge.AuthenticationException("Custom auth failed: 500", original_exception=cause,
                                           context={"a": 1}, service_name="custom")
    assert (e.message, e.original_exception, e.context, e.service_name, e.step) == (
        "Custom auth failed: 500", cause, {"a": 1}, "custom", "custom")
    assert e.code == 9 and str(e) == "Custom auth failed: 500" and e.status_code is None
    assert "custom" in repr(e)


def test_errors_from_the_library_carry_every_field(base):
    with pytest.raises(tokenforge.HTTPStatusError) as info:
        tokenforge.BodyTokenFetcher("s", base, "/oauth-error/503/temporarily_unavailable", max_attempts=1).fetch()
    e = info.value
    assert (e.http_status, e.step, e.oauth_error, e.retryable) == (503, "s", "temporarily_unavailable", True)
    assert e.oauth_description == "described temporarily_unavailable" and e.field is None


def test_a_user_exception_becomes_a_c_error_and_back():
    class Mine(Exception):
        pass

    mine = Mine("boom")
    err, code = errors.to_c(mine, 9)
    assert code == 9
    assert errors.from_c(code, err) is mine
    own = tokenforge.StorageError("store down")
    err, code = errors.to_c(own, 9)
    assert code == 10 and errors.from_c(code, err) is own
    assert tokenforge._ffi.live_causes() == 0
