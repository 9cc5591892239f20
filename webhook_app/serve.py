"""`payments-pipeline run-webhooks`: serve the receiver with waitress (a real WSGI server).

Verification is on unless `--insecure-no-verify` is given; with verification on and no
STRIPE_WEBHOOK_SECRET the server refuses to start. Logs are JSON lines on stderr, including
waitress's own, each tagged with the pid of the process that wrote it, and the secret is
registered for redaction (it is never logged on purpose).

Slow or idle clients (ADR 0021): each worker accepts up to `--connection-limit` connections
and closes any that sends no complete request within `--read-timeout` seconds
(webhook_app/connections.py), so half-open sockets cannot starve valid deliveries.

Process model (ADR 0021): the listening socket is bound once, then `--workers` processes
(default: one per CPU) each run a waitress server with `--threads` threads on that same
socket, so one Python process's GIL is not the ceiling. With one worker the server runs in
this process, as before. With more, this process only supervises: it forwards SIGTERM and
SIGINT to the workers, waits for them, and exits non-zero if a worker dies on its own (after
stopping the others); workers are killed by the kernel if it dies. Exactly-once storage does
not depend on which process serves a delivery: it rests on the exclusive create in the lake.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from extractor import logs
from extractor.lake.storage import Storage
from extractor.processes import die_with_parent
from webhook_app.app import (
    DEFAULT_MAX_BODY_BYTES,
    WebhookConfigError,
    create_app,
)
from webhook_app.connections import (
    DEFAULT_CONNECTION_LIMIT,
    DEFAULT_LIMITS,
    DEFAULT_READ_TIMEOUT_SECONDS,
    Limits,
    create_server,
    fit_connection_limit,
)
from webhook_app.signature import DEFAULT_TOLERANCE_SECONDS

DEFAULT_THREADS = 8
EXIT_CONFIG = 2
EXIT_WORKER_DIED = 1
WAITRESS_BODY_FACTOR = 4
BACKLOG = 1024  # waitress's own default
# Waitress warns "Task queue depth is N" on every request that waits for a thread, which
# under load is most of them; one line per interval keeps the signal without the cost.
QUEUE_LOG_INTERVAL_SECONDS = 10.0
# A stopping worker gets this long to finish its requests before it is killed.
STOP_GRACE_SECONDS = 15


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ThrottledWarnings:
    """Stands in for a logger that only `.warning`s: passes one call per interval to it, with
    the number of calls dropped since the last one passed.

    Checked before a log record is even built (a logging.Filter would run after): waitress
    calls this on most requests under load.
    """

    def __init__(
        self, logger: logging.Logger, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._next = float("-inf")
        self._dropped = 0
        self._lock = threading.Lock()

    def warning(self, message: str, *args: object) -> None:
        now = self.clock()
        with self._lock:
            if now < self._next:
                self._dropped += 1
                return
            self._next = now + self.interval
            dropped, self._dropped = self._dropped, 0
        fields = {"similar_lines_dropped": dropped} if dropped else {}
        self.logger.warning(message, *args, extra={"fields": fields})


def _route_waitress_logs() -> None:
    """Make waitress's own messages JSON lines too."""
    waitress_logger = logging.getLogger("waitress")
    waitress_logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logs.JsonFormatter())
    waitress_logger.addHandler(handler)
    waitress_logger.setLevel(logging.INFO)
    waitress_logger.propagate = False


@dataclass(frozen=True)
class ServerOptions:
    """What `run-webhooks` was asked for; None means the default."""

    host: str = "127.0.0.1"
    port: int = 8001
    verify_signatures: bool = True
    tolerance_seconds: int | None = None
    max_body_bytes: int | None = None
    threads: int | None = None
    workers: int | None = None
    connection_limit: int | None = None
    read_timeout: int | None = None


def app_config(options: ServerOptions, storage: Storage, secrets: tuple[str, ...]) -> dict:
    """The create_app config for these options."""
    return {
        "STORAGE": storage,
        "WEBHOOK_SECRETS": secrets,
        "VERIFY_SIGNATURES": options.verify_signatures,
        "SIGNATURE_TOLERANCE_SECONDS": options.tolerance_seconds or DEFAULT_TOLERANCE_SECONDS,
        "MAX_BODY_BYTES": options.max_body_bytes or DEFAULT_MAX_BODY_BYTES,
    }


def _tag_logs_with_pid() -> None:
    """Every line says which process wrote it (workers share stderr); waitress's too."""
    logs.set_fields(pid=os.getpid())
    _route_waitress_logs()


def listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket once, before any worker starts (port 0 picks a free one)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return socket.create_server((host, port), family=family[0][0], backlog=BACKLOG)


def make_server(
    app: Any,
    sock: socket.socket,
    threads: int,
    max_body_bytes: int,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """A waitress server for `app` on the already bound `sock` (connections.py: deadlines)."""
    server = create_server(
        app,
        sock,
        limits,
        threads=threads,
        # Waitress buffers a whole body (de-chunking it) before the app runs; this backstop
        # bounds that buffer, while the app answers the JSON 413 for anything up to it.
        max_request_body_size=WAITRESS_BODY_FACTOR * max_body_bytes,
    )
    # ThreadedTaskDispatcher.add_task calls self.queue_logger.warning(...) per queued task.
    server.task_dispatcher.queue_logger = ThrottledWarnings(
        logging.getLogger("waitress.queue"), QUEUE_LOG_INTERVAL_SECONDS
    )
    return server


def serve(
    app: Any,
    sock: socket.socket,
    threads: int,
    max_body_bytes: int,
    limits: Limits = DEFAULT_LIMITS,
) -> None:
    """Run one waitress server on `sock` until SIGTERM or SIGINT."""
    server = make_server(app, sock, threads, max_body_bytes, limits)

    def stop(signum: int, _frame: object) -> None:
        logs.log("webhook_server_stopping", signal=signal.Signals(signum).name)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()


def run_server(
    options: ServerOptions,
    storage: Storage,
    webhook_secrets: tuple[str, ...],
    log_secrets: list[str],
) -> int:
    """Serve until stopped; returns the exit code (2: refused to start, 1: a worker died).

    The storage is not used before the workers fork, so each worker's S3 client opens its own
    connections."""
    _tag_logs_with_pid()
    logs.add_secrets(log_secrets)
    try:
        config = app_config(options, storage, webhook_secrets)
        app = create_app(config)
    except WebhookConfigError as exc:
        return _refuse(str(exc))
    threads = options.threads or DEFAULT_THREADS
    workers = options.workers or default_workers()
    if threads < 1 or workers < 1:
        return _refuse(f"--threads and --workers must be at least 1 (got {threads}, {workers})")
    wanted = _or_default(options.connection_limit, DEFAULT_CONNECTION_LIMIT)
    read_timeout = _or_default(options.read_timeout, DEFAULT_READ_TIMEOUT_SECONDS)
    if wanted < 1 or read_timeout < 1:
        return _refuse(
            f"--connection-limit and --read-timeout must be at least 1 (got {wanted}, "
            f"{read_timeout})"
        )
    limits = Limits(fit_connection_limit(wanted), read_timeout)
    if limits.connection_limit < wanted:
        logs.warn(
            "webhook_connection_limit_lowered",
            requested=wanted,
            connection_limit=limits.connection_limit,
            message="the open-file limit (ulimit -n) cannot hold the requested connections; "
            "raise its hard limit to serve more at once",
        )
    if not options.verify_signatures:
        logs.warn(
            "webhook_signature_verification_disabled",
            message="--insecure-no-verify: unsigned and forged webhooks will be accepted; "
            "never use this outside local testing",
        )
    try:
        sock = listen(options.host, options.port)
    except OSError as exc:
        return _refuse(f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}")
    host, port = sock.getsockname()[:2]
    logs.log(
        "webhook_server_started",
        url=f"http://{options.host}:{port}/webhooks/stripe",
        address=f"{host}:{port}",
        lake=storage.root,
        verifying_signatures=options.verify_signatures,
        tolerance_seconds=config["SIGNATURE_TOLERANCE_SECONDS"],
        max_body_bytes=config["MAX_BODY_BYTES"],
        workers=workers,
        threads=threads,
        connection_limit_per_worker=limits.connection_limit,
        read_timeout_seconds=limits.read_timeout,
    )
    if workers == 1:
        serve(app, sock, threads, config["MAX_BODY_BYTES"], limits)
        logs.log("webhook_server_stopped")
        return 0
    del app  # each worker builds its own app

    def worker() -> int:
        _tag_logs_with_pid()
        logs.log("webhook_worker_started", threads=threads)
        serve(create_app(config), sock, threads, config["MAX_BODY_BYTES"], limits)
        logs.log("webhook_worker_stopped")
        return 0

    code = supervise(workers, worker, sock)
    logs.log("webhook_server_stopped", exit_code=code)
    return code


def _or_default(value: int | None, default: int) -> int:
    return default if value is None else value


def _refuse(message: str) -> int:
    logs.error("webhook_server_refused_to_start", message=message)
    print(f"payments-pipeline run-webhooks: refusing to start: {message}", file=sys.stderr)
    return EXIT_CONFIG


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def supervise(
    workers: int, run_worker: Callable[[], int], sock: socket.socket, name: str = "webhook"
) -> int:
    """Fork `workers` processes running `run_worker`; forward stop signals; reap them all.

    Returns 0 after a requested stop, EXIT_WORKER_DIED if a worker ended on its own. `name`
    prefixes the log events (the mock API's `--workers` runs under this supervisor too).
    """
    parent = os.getpid()
    children: set[int] = set()
    state: dict[str, Any] = {"stopping": None, "code": 0}

    def stop_all(reason: str) -> None:
        if state["stopping"] is None:
            state["stopping"] = reason
            logs.log(f"{name}_server_stopping", reason=reason, workers=sorted(children))
            # Whatever does not stop in time is killed (SIGALRM interrupts os.wait()).
            signal.alarm(STOP_GRACE_SECONDS)
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def on_signal(signum: int, _frame: object) -> None:
        stop_all(signal.Signals(signum).name)

    def on_alarm(_signum: int, _frame: object) -> None:
        for pid in list(children):
            logs.error(f"{name}_worker_killed", worker_pid=pid, grace_seconds=STOP_GRACE_SECONDS)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    for _ in range(workers):
        if state["stopping"] is not None:
            break
        pid = os.fork()
        if pid == 0:
            code = EXIT_WORKER_DIED
            try:
                # Until its server runs, a stop request simply ends the worker, cleanly.
                signal.signal(signal.SIGTERM, _exit_cleanly)
                signal.signal(signal.SIGINT, _exit_cleanly)
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                die_with_parent(signal.SIGKILL, parent)  # no orphan holds the port
                code = run_worker()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else EXIT_WORKER_DIED
            except BaseException as exc:  # a worker must never return into the CLI's code
                logs.error(f"{name}_worker_failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        children.add(pid)
    # The workers hold the socket; closing ours lets the port go once the last one stops.
    sock.close()
    if state["stopping"] is not None:
        stop_all(state["stopping"])
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if state["stopping"] is None:
            logs.error(
                f"{name}_worker_died",
                worker_pid=pid,
                exit_code=code,
                message="a worker stopped on its own; stopping the others",
            )
            state["code"] = EXIT_WORKER_DIED
            stop_all("worker_died")
        else:
            logs.log(f"{name}_worker_exited", worker_pid=pid, exit_code=code)
            if code != 0:
                state["code"] = EXIT_WORKER_DIED
    signal.alarm(0)
    return state["code"]
