"""Fetching one URL with bounds on its size and its total time, every failure one line.

:func:`fetch` is what :func:`~scratchnn.datasets.download` uses for each file and mirror. A
body is read in pieces and never past ``limit`` bytes; a timer shuts the connection's socket
down at the deadline (a per-read timeout never fires on a server sending a byte every few
seconds); every problem, ``http.client``'s protocol errors included, becomes a
:class:`Refused` whose message is one line naming it.
"""

from __future__ import annotations

import http.client
import socket
import sys
import threading
import urllib.error
import urllib.request
from typing import Any

from tqdm.std import tqdm  # not tqdm.auto: it warns in a notebook without ipywidgets

__all__ = ["Refused", "fetch"]


class Refused(Exception):
    """What went wrong with one mirror, as the one line the user sees."""


class _Watchdog:
    """Shuts down a download's sockets when its deadline passes.

    A per-read timeout never fires on a server that sends one byte every few seconds, and the
    thread reading is stuck inside ``http.client`` (in the headers, or a read of the body):
    shutting the socket down from this timer thread makes that read return at once.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.fired:
                return
        self._shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            # socket.socket's own method: on a TLS socket it acts on the file descriptor
            # without touching the TLS state the reading thread is using
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class _WatchedOpen:
    """Mixin for urllib's HTTP(S) handlers: each connection's socket goes to the watchdog."""

    watchdog: _Watchdog

    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        watchdog = self.watchdog

        class Watched(http_class):
            def connect(self) -> None:
                super().connect()
                watchdog.watch(self.sock)

        return super().do_open(Watched, req, **kwargs)


class _HTTPHandler(_WatchedOpen, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_WatchedOpen, urllib.request.HTTPSHandler):
    pass


def _one_line(text: object, limit: int = 160) -> str:
    """A server's words made safe for a one-line message: no control characters, bounded."""
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def _describe(exc: BaseException) -> str:
    """What a failed request or read means, in a few words."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without a response"
    if isinstance(exc, http.client.BadStatusLine):
        return f"bad HTTP status line {_one_line(repr(exc.args[0] if exc.args else ''), 60)}"
    if isinstance(exc, http.client.LineTooLong):
        return f"bad HTTP response ({_one_line(exc)})"
    if isinstance(exc, http.client.IncompleteRead):
        return "incomplete or malformed"
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP response ({_one_line(exc) or type(exc).__name__})"
    if isinstance(exc, urllib.error.URLError):
        return _one_line(exc.reason)
    if isinstance(exc, ValueError):  # http.client's chunk-size parser, or a malformed URL
        return f"malformed response or URL ({_one_line(exc)})"
    return _one_line(exc) or type(exc).__name__


def fetch(
    url: str, timeout: float, deadline: float, limit: int, progress: bool, label: str
) -> bytes:
    """The body at ``url``; :class:`Refused` with one line for anything that goes wrong."""
    body = _Body(limit, progress, label)
    with _Watchdog(deadline) as watchdog:
        handlers = [_HTTPHandler(), _HTTPSHandler()]
        for handler in handlers:
            handler.watchdog = watchdog
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(url, timeout=min(timeout, deadline)) as response:
                announced = response.headers.get("Content-Length")
                body.announced = int(announced) if announced and announced.isdigit() else None
                if body.announced is not None and body.announced > limit:
                    raise Refused(
                        f"announces {body.announced:,} bytes, more than the {limit:,} expected"
                    )
                body.read(response)
        except Refused:
            if watchdog.fired:
                raise Refused(_late(deadline, body.received)) from None
            raise
        except (http.client.HTTPException, OSError, ValueError) as exc:
            if watchdog.fired:
                raise Refused(_late(deadline, body.received)) from None
            if body.started:
                kind = "chunked response body" if body.chunked else "response body"
                raise Refused(
                    f"broken {kind} after {_count(body.received)} ({_describe(exc)})"
                ) from None
            raise Refused(_describe(exc)) from None
        if watchdog.fired:  # the shutdown looked like the end of the body
            raise Refused(_late(deadline, body.received))
    if body.announced is not None and body.received != body.announced:
        raise Refused(
            f"connection closed after {body.received:,} of the {body.announced:,} bytes announced"
        )
    return b"".join(body.chunks)


def _count(n: int) -> str:
    return "1 byte" if n == 1 else f"{n:,} bytes"


def _late(deadline: float, received: int) -> str:
    return (
        f"not complete after the {deadline:g} s deadline ({_count(received)} received); "
        "the server is too slow"
    )


class _Body:
    """A response body read in pieces, never past ``limit`` bytes; what was read so far."""

    def __init__(self, limit: int, progress: bool, label: str) -> None:
        self.limit, self.progress, self.label = limit, progress, label
        self.announced: int | None = None
        self.chunks: list[bytes] = []
        self.received = 0
        self.started = self.chunked = False

    def read(self, response: Any) -> None:
        self.started, self.chunked = True, bool(getattr(response, "chunked", False))
        bar = None
        if self.progress:
            bar = tqdm(
                total=self.announced,
                desc=self.label,
                unit="B",
                unit_scale=True,
                leave=False,
                file=sys.stderr,
            )
        # read1: whatever has arrived, in one system call; read(n) would wait for all n bytes
        read = getattr(response, "read1", response.read)
        try:
            while chunk := read(1 << 16):
                self.received += len(chunk)
                if self.received > self.limit:
                    raise Refused(
                        f"sent more than the {self.limit:,} bytes expected; stopped there"
                    )
                self.chunks.append(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
