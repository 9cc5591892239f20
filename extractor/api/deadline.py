"""A whole-request deadline for the client's HTTP calls.

requests' timeout bounds each socket operation, not the request: a server that sends a byte
every few seconds keeps a call (headers or body) alive forever, and with it the run. The
client's connections wrap their socket so that every send and receive waits at most until the
deadline of the request in progress on this thread; past it the socket times out, which
requests reports as a timeout, and the client retries it like any other.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


@contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Every socket operation of this thread's request ends by `seconds` from now."""
    _current.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _current.at = None


class DeadlineSocket:
    """A connected socket whose every operation is bounded by the current request's deadline
    (and, as before, by the per-operation timeout urllib3 sets)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._per_operation = sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self._per_operation = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._per_operation

    def _arm(self) -> None:
        at = getattr(_current, "at", None)
        if at is None:
            self._sock.settimeout(self._per_operation)
            return
        remaining = at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request's deadline passed")
        per = self._per_operation
        self._sock.settimeout(remaining if per is None else min(per, remaining))

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes, flags)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._arm()
        return self._sock.recv(bufsize, flags)

    def send(self, data: Any, flags: int = 0) -> int:
        self._arm()
        return self._sock.send(data, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._arm()
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "rb", buffering: int | None = None, **_: Any) -> Any:
        """http.client reads responses through this file: it must read through us."""
        if mode != "rb":
            raise ValueError(f"DeadlineSocket.makefile supports 'rb' only, not {mode!r}")
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        self._sock._io_refs += 1  # type: ignore[attr-defined]
        return io.BufferedReader(raw, buffering or io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self) -> None:
        self._sock._decref_socketios()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _HTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = DeadlineSocket(self.sock)  # type: ignore[assignment]


class _HTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = DeadlineSocket(self.sock)  # type: ignore[assignment]


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections whose sockets honour `request_deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
