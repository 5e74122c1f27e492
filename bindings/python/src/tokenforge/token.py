"""``TokenData``: requestforge's immutable token container, over the library's token.

Two kinds exist, indistinguishable in use: tokens made in Python (``TokenData(...)``, as the
reference's custom fetchers do) and tokens the library made (fetch results, pipeline tokens,
storage reads), which keep a reference to the C token so that they go back into the library
(contexts, storage, custom fetch results) without copying.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, Mapping, Optional

from . import _ffi
from ._ffi import dec, enc, lib
from .errors import InvalidArgumentError

__all__ = ["TokenData", "TokenExtra"]

#: The buffer of TokenData.is_expired, as the reference's (30 seconds).
EXPIRY_BUFFER = timedelta(seconds=30)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_convert_lock = threading.Lock()


def to_utc(value: Optional[datetime]) -> Optional[datetime]:
    """``value`` as an aware UTC datetime to the millisecond (the library's resolution). A
    naive datetime is local time, as ``datetime.now()`` gives (the reference's fetchers) and
    as :meth:`datetime.timestamp` reads it."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"expires_at must be a datetime or None, not {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.astimezone()  # local time
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def ms_to_datetime(ms: int) -> Optional[datetime]:
    """Unix epoch milliseconds as an aware UTC datetime; ``NO_EXPIRY`` (negative) is None."""
    if ms < 0:
        return None
    return _EPOCH + timedelta(milliseconds=ms)


def datetime_to_ms(value: Optional[datetime]) -> int:
    """The inverse of :func:`ms_to_datetime` (for an aware datetime)."""
    if value is None:
        return _ffi.NO_EXPIRY
    return (value - _EPOCH) // timedelta(milliseconds=1)


def _extra_text(value: Any) -> str:
    """An extra field's value as the library keeps it: strings as they are, other values as
    JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


class TokenExtra(Mapping[str, Any]):
    """The other fields of a token response (``id_token``, custom fields), read-only.

    On a token made in Python it is the ``extra`` dict given, values as given. On a token the
    library made it holds every field of the response other than the access token, its type,
    expiry, refresh token and scope, sorted by name, each as a string (other JSON
    values as JSON text).
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = fields

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        names = ", ".join(repr(k) for k in self._fields)
        return f"TokenExtra([{names}])"


def _c_extras(c: int) -> Dict[str, Any]:
    """The extra fields of the C token ``c`` but its scope (a field of its own), by name."""
    fields: Dict[str, Any] = {}
    for index in range(lib.tokenforge_token_extra_count(c)):
        name = lib.tokenforge_token_extra_name(c, index)
        if name is None or name == b"scope":
            continue
        value = lib.tokenforge_token_extra(c, name)
        if value is not None:
            fields[name.decode("utf-8", "replace")] = dec(value)
    return fields


class TokenData:
    """An access token with its type, expiry, refresh token, scope and the other fields of
    the token response. Immutable and safe to share between threads.

    ``expires_at`` is always an aware UTC datetime (or None when unknown): a naive datetime
    given here is read as local time, so ``datetime.now() + ttl`` means what it says. Its
    repr and str never show the access or refresh token.

    Args:
        access_token: the token.
        token_type: its type (default ``"Bearer"``).
        expires_at: when it expires, or None.
        refresh_token: the refresh token, or None.
        scope: the granted scope, or None.
        extra: other fields of the response.
    """

    __slots__ = ("_access_token", "_token_type", "_expires_at", "_refresh_token", "_scope", "_known", "_c", "_auth",
                 "__weakref__")

    def __init__(
        self,
        access_token: str,
        token_type: str = "Bearer",
        expires_at: Optional[datetime] = None,
        refresh_token: Optional[str] = None,
        scope: Optional[str] = None,
        extra: Optional[Mapping[str, Any]] = None,
    ) -> None:
        if not isinstance(access_token, str):
            raise TypeError(f"access_token must be a str, not {type(access_token).__name__}")
        self._access_token = access_token
        self._token_type = token_type
        self._expires_at = to_utc(expires_at)
        self._refresh_token = refresh_token
        self._scope = scope
        self._c: Optional[int] = None
        self._auth: Optional[str] = None
        self._known: Optional[Dict[str, Any]] = dict(extra or {})

    # -- made by the library ------------------------------------------------------------

    @classmethod
    def _from_c(cls, c: Optional[int]) -> "TokenData":
        """Takes ownership of the C token ``c`` (not NULL)."""
        assert c, "the library returned no token"
        self = cls.__new__(cls)
        self._access_token = dec(lib.tokenforge_token_access_token(c)) or ""
        self._token_type = dec(lib.tokenforge_token_token_type(c)) or "Bearer"
        self._expires_at = ms_to_datetime(lib.tokenforge_token_expires_at_ms(c))
        self._refresh_token = dec(lib.tokenforge_token_refresh_token(c))
        self._scope = dec(lib.tokenforge_token_scope(c))
        self._auth = dec(lib.tokenforge_token_authorization(c))
        self._c = c
        self._known = None  # read from the C token on first use of .extra
        return self

    @classmethod
    def _from_borrowed(cls, c: Optional[int]) -> "TokenData":
        """A token equal to the borrowed C token ``c`` (a clone is taken)."""
        return cls._from_c(lib.tokenforge_token_clone(c))

    def _c_token(self) -> int:
        """The C token (owned by this object) to hand to the library, made on first use.
        Raises :class:`InvalidArgumentError` when the library refuses the values (an empty
        access token, CR or LF in it or in the type)."""
        if self._c is not None:
            return self._c
        with _convert_lock:
            if self._c is not None:
                return self._c
            t = lib.tokenforge_token_new(
                enc(self._access_token),
                enc(self._token_type or None),
                datetime_to_ms(self._expires_at),
                enc(self._refresh_token or None),
            )
            if not t:
                raise InvalidArgumentError(
                    "invalid token: the access token must be a non-empty string and neither it nor the "
                    "token type may hold CR or LF"
                )
            fields = dict(self._known or {})
            if self._scope is not None:
                fields["scope"] = self._scope
            for name, value in fields.items():
                made = lib.tokenforge_token_with_extra(t, enc(str(name)), enc(_extra_text(value)))
                lib.tokenforge_token_free(t)
                if not made:
                    raise InvalidArgumentError(f"invalid extra field {name!r}")
                t = made
            self._c = t
            return t

    def _c_clone(self) -> int:
        """A new reference to the C token, owned by whoever receives it."""
        return lib.tokenforge_token_clone(self._c_token())

    def __del__(self) -> None:
        c = getattr(self, "_c", None)
        if c is not None:
            self._c = None
            lib.tokenforge_token_free(c)

    # -- fields -------------------------------------------------------------------------

    @property
    def access_token(self) -> str:
        """The access token."""
        return self._access_token

    @property
    def token_type(self) -> str:
        """The token type (``"Bearer"`` when the response gave none)."""
        return self._token_type

    @property
    def expires_at(self) -> Optional[datetime]:
        """The expiry as an aware UTC datetime; None when unknown."""
        return self._expires_at

    @property
    def refresh_token(self) -> Optional[str]:
        """The refresh token; None when there is none."""
        return self._refresh_token

    @property
    def scope(self) -> Optional[str]:
        """The granted scope; None when the response gave none."""
        return self._scope

    @property
    def extra(self) -> TokenExtra:
        """The other fields of the token response (see :class:`TokenExtra`)."""
        return TokenExtra(self._extras())

    def _extras(self) -> Dict[str, Any]:
        known = self._known
        if known is None:
            assert self._c is not None
            known = _c_extras(self._c)
            object.__setattr__(self, "_known", known)  # racing threads build equal dicts; one stays
        return known

    @property
    def is_expired(self) -> bool:
        """True when the token expires within 30 seconds (the reference's buffer) or has
        expired; a token of unknown expiry never is."""
        if self._expires_at is None:
            return False
        return datetime.now(timezone.utc) >= self._expires_at - EXPIRY_BUFFER

    @property
    def expires_in(self) -> Optional[float]:
        """Seconds until expiry (negative once expired); None when unknown."""
        if self._expires_at is None:
            return None
        return (self._expires_at - datetime.now(timezone.utc)).total_seconds()

    @property
    def authorization_header(self) -> str:
        """``"<type> <token>"``, the value of an ``Authorization`` header."""
        if self._auth is None:
            self._auth = f"{self._token_type} {self._access_token}" if self._token_type else self._access_token
        return self._auth

    # -- conversions --------------------------------------------------------------------

    @classmethod
    def from_response(
        cls,
        data: Mapping[str, Any],
        expires_in_key: str = "expires_in",
        access_token_key: str = "access_token",
        refresh_token_key: str = "refresh_token",
        token_type_key: str = "token_type",
    ) -> "TokenData":
        """A token from a token response (a JSON object's dict), as the reference's
        ``TokenData.from_response``, with the library's leniency: ``expires_in`` may be an
        integer, a float or a numeric string; null, absent or not positive means unknown; a
        null or absent ``token_type`` is ``"Bearer"``. The expiry is counted from now, in UTC."""
        token = data.get(access_token_key)
        if not isinstance(token, str) or not token:
            raise InvalidArgumentError(f"token response field {access_token_key!r} is absent, empty or not a string")
        expires_at = None
        raw = data.get(expires_in_key)
        if raw is not None and not isinstance(raw, bool):
            try:
                seconds = float(raw)
            except (TypeError, ValueError):
                seconds = 0.0
            if seconds > 0:
                expires_at = datetime.now(timezone.utc) + timedelta(seconds=seconds)
        token_type = data.get(token_type_key) or "Bearer"
        if isinstance(token_type, str) and token_type.lower() == "bearer":
            token_type = "Bearer"
        skip = {access_token_key, refresh_token_key, token_type_key, expires_in_key, "scope"}
        return cls(
            access_token=token,
            token_type=str(token_type),
            expires_at=expires_at,
            refresh_token=data.get(refresh_token_key) or None,
            scope=data.get("scope"),
            extra={k: v for k, v in data.items() if k not in skip},
        )

    def to_dict(self) -> Dict[str, Any]:
        """The fields as a dict of JSON-ready values (``expires_at`` as ISO 8601 text), for a
        storage that serialises tokens; :meth:`from_dict` reads it back. It holds the
        secrets."""
        return {
            "access_token": self._access_token,
            "token_type": self._token_type,
            "expires_at": None if self._expires_at is None else self._expires_at.isoformat(),
            "refresh_token": self._refresh_token,
            "scope": self._scope,
            "extra": dict(self._extras()),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TokenData":
        """The token that :meth:`to_dict` described (``expires_at`` as ISO text or a
        datetime)."""
        expires_at = data.get("expires_at")
        if isinstance(expires_at, str):
            expires_at = datetime.fromisoformat(expires_at)
        return cls(
            access_token=data["access_token"],
            token_type=data.get("token_type") or "Bearer",
            expires_at=expires_at,
            refresh_token=data.get("refresh_token"),
            scope=data.get("scope"),
            extra=data.get("extra") or {},
        )

    # -- value semantics ----------------------------------------------------------------

    def _key(self) -> tuple:
        return (self._access_token, self._token_type, self._expires_at, self._refresh_token, self._scope)

    def __eq__(self, other: object) -> bool:
        """Tokens are equal when their access token, type, expiry, refresh token and scope
        are. Extra fields are not compared: the library keeps a non-string field as JSON text, so
        a token it made and the same token made in Python would differ only in form."""
        if not isinstance(other, TokenData):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "_known") and name != "_c" and name != "_auth":
            raise AttributeError("TokenData is immutable")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        refresh = "<redacted>" if self._refresh_token else None
        expires = None if self._expires_at is None else self._expires_at.isoformat()
        return (
            f"TokenData(access_token=<redacted>, token_type={self._token_type!r}, expires_at={expires!r}, "
            f"refresh_token={refresh!r}, scope={self._scope!r})"
        )

    __str__ = __repr__
