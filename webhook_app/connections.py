"""Waitress with a read deadline and a connection budget that fits the process's file limit.

Waitress's own `channel_timeout` closes only a connection that has been *silent* that long,
and only at its sweep every `cleanup_interval` (120 s and 30 s by default), while its
`connection_limit` (100 by default) stops accepting once that many connections are open. So
~100 sockets per worker that send part of a request and wait (or trickle a byte now and then)
left valid deliveries waiting in the kernel's backlog for minutes (issue 16).

Here one number, the read timeout, bounds both: a connection idle that long is closed (as
waitress does), and so is one whose current request (headers and body) started that long ago
and is still incomplete, however steadily it trickles. The sweep runs every second. A request
that has been read completely is never cut: the deadline is for reading, not for serving.
"""

from __future__ import annotations

import resource
import socket
import time
from dataclasses import dataclass
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from extractor import logs

DEFAULT_CONNECTION_LIMIT = 1000  # per worker process
DEFAULT_READ_TIMEOUT_SECONDS = 10
SWEEP_INTERVAL_SECONDS = 1  # waitress's cleanup_interval: how often deadlines are checked
# A connection holds its socket and, while a body above waitress's inbuf_overflow (512 KiB)
# is buffered, a temp file; the rest is for the lake, logs and the Python runtime.
FDS_PER_CONNECTION = 2
FDS_RESERVED = 64


@dataclass(frozen=True)
class Limits:
    connection_limit: int = DEFAULT_CONNECTION_LIMIT
    read_timeout: int = DEFAULT_READ_TIMEOUT_SECONDS


DEFAULT_LIMITS = Limits()


class DeadlineChannel(HTTPChannel):
    """Remembers when the request being read began (waitress's clock: time.time)."""

    request_started = 0.0

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.request_started = time.time()
        return super().received(data)


class DeadlineServer(TcpWSGIServer):
    """TcpWSGIServer whose sweep also closes requests still incomplete after the timeout."""

    channel_class = DeadlineChannel
    timed_out = 0  # closed since the last report
    next_report = 0.0

    def maintenance(self, now: float) -> None:
        cutoff = now - self.adj.channel_timeout
        for channel in self.active_channels.values():
            if channel.requests or channel.will_close:
                continue  # being served, or closing already
            reading = channel.request is not None
            started = channel.request_started if reading else channel.last_activity
            if started < cutoff:
                channel.will_close = True
                self.timed_out += 1
        # One line per read timeout at most, with the count: an attack is visible, not loud.
        if self.timed_out and now >= self.next_report:
            logs.warn(
                "webhook_connections_timed_out",
                connections=self.timed_out,
                read_timeout_seconds=self.adj.channel_timeout,
                message="closed connections that sent no complete request within the read "
                "timeout (slow or idle clients)",
            )
            self.timed_out = 0
            self.next_report = now + self.adj.channel_timeout


def create_server(app: Any, sock: socket.socket, limits: Limits, **adjustments: Any) -> Any:
    """A DeadlineServer for `app` on the already bound `sock` (as waitress.create_server
    builds its TcpWSGIServer for one socket)."""
    adj = Adjustments(
        sockets=[sock],
        connection_limit=limits.connection_limit,
        channel_timeout=limits.read_timeout,
        cleanup_interval=SWEEP_INTERVAL_SECONDS,
        # select() cannot watch descriptors above 1024; poll() has no such ceiling.
        asyncore_use_poll=True,
        **adjustments,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
    return DeadlineServer(
        app, {}, _sock=sock, dispatcher=dispatcher, adj=adj, bind_socket=False, sockinfo=sockinfo
    )


def fit_connection_limit(wanted: int) -> int:
    """Raise this process's open-file limit as far as allowed for `wanted` connections (the
    workers inherit it); returns the connection limit that fits, at most `wanted`."""
    needed = wanted * FDS_PER_CONNECTION + FDS_RESERVED
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    return max(1, (soft - FDS_RESERVED) // FDS_PER_CONNECTION)
