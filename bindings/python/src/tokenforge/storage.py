"""Token storage (apiconfig's ``TokenStorage``, a Strategy): the library's in-memory, file and
Redis stores, and any store written in Python.

A pipeline given a store loads each step's token from it before fetching and writes every
new token to it (under ``"<prefix>:<step>"``), so that other pipelines, in this process or (file
and Redis stores) in others, reuse valid tokens; with the file and Redis stores, pipelines in
different processes also share one fetch at a time (a lease). A store is a cache, never a
source of failure: a store that fails is reported to the step's ``on_fetch_error`` and the
token is still returned.

A subclass of :class:`TokenStorage` written in Python takes part through the library's custom
storage (``tokenforge_storage_new_custom``): its methods may run on library threads, several at
once, and an exception they raise reaches ``on_fetch_error`` as that same object.
"""

from __future__ import annotations

import os
import re
import weakref
from abc import ABC, abstractmethod
from ctypes import byref, c_void_p, sizeof
from typing import Any, Mapping, Optional, Union

from . import _ffi, errors
from ._ffi import enc, lib
from .errors import InvalidArgumentError, StorageError
from .token import TokenData

__all__ = ["TokenStorage", "InMemoryTokenStorage", "FileTokenStorage", "RedisTokenStorage"]

TokenLike = Union[TokenData, Mapping[str, Any]]


def as_token(value: Any) -> TokenData:
    """A TokenData from what a store may be given or return: a TokenData, a dict made by
    :meth:`TokenData.to_dict`, or a token response such as :func:`refresh_oauth2_token`
    returns."""
    if isinstance(value, TokenData):
        return value
    if isinstance(value, Mapping):
        if "expires_at" in value or "extra" in value:
            return TokenData.from_dict(value)
        return TokenData.from_response(value)
    raise TypeError(f"a stored token must be a TokenData or a token response dict, not {type(value).__name__}")


class TokenStorage(ABC):
    """Where tokens are kept, by key. Subclass it and implement the three methods to keep
    tokens your own way; pass it to :class:`TokenFetchPipeline` as ``storage``.

    requestforge's storage method names (``get``, ``set``, ``delete``, ``exists``) are
    offered on top of apiconfig's.
    """

    @abstractmethod
    def store_token(self, key: str, token_data: TokenLike) -> None:
        """Stores ``token_data`` under ``key``, replacing any."""

    @abstractmethod
    def retrieve_token(self, key: str) -> Optional[TokenLike]:
        """The token under ``key``, or None when there is none."""

    @abstractmethod
    def delete_token(self, key: str) -> None:
        """Deletes the token under ``key``; an absent key is fine."""

    # requestforge's names
    def get(self, key: str) -> Optional[TokenData]:
        """The token under ``key`` as a TokenData, or None."""
        value = self.retrieve_token(key)
        return None if value is None else as_token(value)

    def set(self, key: str, token: TokenLike) -> None:
        """Same as :meth:`store_token`."""
        self.store_token(key, token)

    def delete(self, key: str) -> None:
        """Same as :meth:`delete_token`."""
        self.delete_token(key)

    def exists(self, key: str) -> bool:
        """Whether a token is stored under ``key``."""
        return self.retrieve_token(key) is not None

    def _tokenforge_storage(self) -> Optional[int]:
        """The C storage a pipeline uses for this store (borrowed from this object): one that
        calls this object's methods, made once."""
        owned: Optional[_ffi.Owned] = getattr(self, "_tf_custom", None)
        if owned is None:
            owned = _new_custom(self)
            object.__setattr__(self, "_tf_custom", owned)
            weakref.finalize(self, owned.close)
        return _borrow(owned)


def _borrow(owned: _ffi.Owned) -> Optional[int]:
    ptr = owned.acquire()
    if ptr is None:
        raise InvalidArgumentError("the storage is closed")
    owned.release()  # the caller (a pipeline) takes its own reference at once
    return ptr


def _new_custom(store: TokenStorage) -> _ffi.Owned:
    callbacks = _ffi.StorageCallbacks(sizeof(_ffi.StorageCallbacks), _STORE, _RETRIEVE, _DELETE)
    out = c_void_p()
    err = c_void_p()
    key = _ffi.new_handle(weakref.ref(store))
    errors.check(lib.tokenforge_storage_new_custom(byref(callbacks), key, _ffi.FREE_HANDLE, byref(out), byref(err)), err)
    return _ffi.Owned(out.value, lib.tokenforge_storage_free)


def _store_of(userdata: Optional[int]) -> TokenStorage:
    ref = _ffi.handle_value(userdata)
    store = ref() if ref is not None else None
    if store is None:
        raise StorageError("the Python storage was garbage collected")
    return store


def _fail(err_out: Any, exc: BaseException) -> int:
    err, code = errors.to_c(exc, _ffi.STORAGE)
    if err_out:
        err_out[0] = err or None
    elif err:
        lib.tokenforge_error_free(err)
    return code


@_ffi.STORE_CALLBACK
def _STORE(userdata: Optional[int], key: Optional[bytes], t: Optional[int], err_out: Any) -> int:
    try:
        _store_of(userdata).store_token((key or b"").decode(), TokenData._from_borrowed(t))
        return _ffi.OK
    except BaseException as exc:  # noqa: BLE001 - reaches on_fetch_error as itself
        return _fail(err_out, exc)


@_ffi.RETRIEVE_CALLBACK
def _RETRIEVE(userdata: Optional[int], key: Optional[bytes], out: Any, err_out: Any) -> int:
    try:
        value = _store_of(userdata).retrieve_token((key or b"").decode())
        if value is not None:
            out[0] = as_token(value)._c_clone()
        return _ffi.OK
    except BaseException as exc:  # noqa: BLE001
        return _fail(err_out, exc)


@_ffi.DELETE_CALLBACK
def _DELETE(userdata: Optional[int], key: Optional[bytes], err_out: Any) -> int:
    try:
        _store_of(userdata).delete_token((key or b"").decode())
        return _ffi.OK
    except BaseException as exc:  # noqa: BLE001
        return _fail(err_out, exc)


class _NativeStorage(TokenStorage):
    """A store the library implements."""

    def __init__(self, ptr: Optional[int]) -> None:
        self._owned = _ffi.Owned(ptr, lib.tokenforge_storage_free)
        weakref.finalize(self, self._owned.close)

    def _call(self, fn: Any, *args: Any) -> None:
        errors.call_owned(self._owned, f"{type(self).__name__} is closed", fn, *args)

    def store_token(self, key: str, token_data: TokenLike) -> None:
        """Stores a copy of ``token_data`` (a TokenData, or a token response dict such as
        :func:`refresh_oauth2_token` returns) under ``key``.

        Raises:
            StorageError: the store failed.
        """
        token = as_token(token_data)  # held: its C token must outlive the call
        self._call(lib.tokenforge_storage_store, enc(key), token._c_token())

    def retrieve_token(self, key: str) -> Optional[TokenData]:
        """The token under ``key``, or None.

        Raises:
            StorageError: the store failed (the file store: a corrupt or foreign file).
        """
        out = c_void_p()
        self._call(lib.tokenforge_storage_retrieve, enc(key), byref(out))
        return None if not out.value else TokenData._from_c(out.value)

    def delete_token(self, key: str) -> None:
        """Deletes the token under ``key``; an absent key is fine."""
        self._call(lib.tokenforge_storage_delete, enc(key))

    def _tokenforge_storage(self) -> Optional[int]:
        cls = type(self)
        if (cls.store_token is _NativeStorage.store_token and cls.retrieve_token is _NativeStorage.retrieve_token
                and cls.delete_token is _NativeStorage.delete_token):
            return _borrow(self._owned)
        return super()._tokenforge_storage()  # overridden in Python: call the overrides

    def close(self) -> None:
        """Releases this store (pipelines using it keep theirs). Idempotent."""
        self._owned.close()

    def __enter__(self) -> "_NativeStorage":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InMemoryTokenStorage(_NativeStorage):
    """Tokens in this process's memory (the library's memory store; thread-safe; token
    memory is zeroed when dropped)."""

    def __init__(self) -> None:
        super().__init__(lib.tokenforge_storage_new_memory())

    def __repr__(self) -> str:
        return "InMemoryTokenStorage()"


def _made(fn: Any, arg: Optional[bytes]) -> Optional[int]:
    out = c_void_p()
    err = c_void_p()
    errors.check(fn(arg, byref(out), byref(err)), err)
    return out.value


class FileTokenStorage(_NativeStorage):
    """Tokens in a directory shared by the processes of this machine: one file per key,
    written atomically with mode 0600; the directory is made with mode 0700 and refused when
    others may use it. Pipelines on it share one fetch between processes (a kernel lock that
    dies with its process).

    Raises:
        StorageError: the directory is unusable (the message names it and why).
    """

    def __init__(self, directory: Union[str, "os.PathLike[str]"]) -> None:
        self._directory = os.fspath(directory)
        super().__init__(_made(lib.tokenforge_storage_new_file, enc(self._directory)))

    def __repr__(self) -> str:
        return f"FileTokenStorage({self._directory!r})"


class RedisTokenStorage(_NativeStorage):
    """Tokens in Redis, shared by a fleet: ``redis://[user:password@]host:port[/db]``,
    ``rediss://`` (TLS) or ``redis+unix:///path``. Keys expire with their tokens; every call
    has a 250 ms timeout and a Redis that is down makes pipelines fetch by themselves until
    it is back. The connection is made at first use. The password never appears in messages
    or the repr.

    Raises:
        InvalidArgumentError: not a Redis URL.
    """

    def __init__(self, url: str) -> None:
        self._shown = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)
        super().__init__(_made(lib.tokenforge_storage_new_redis, enc(url)))

    def __repr__(self) -> str:
        return f"RedisTokenStorage({self._shown!r})"
