"""Mirrors that misbehave, served by a raw socket on 127.0.0.1: each is one line, then the next.

Every case answers a real ``download`` request with bytes no proper HTTP server would send:
a bad status line, too many or too long headers, a broken chunked body, an endless body, a
byte every 2 s (past a per-read timeout, caught by the per-file deadline), a gzip bomb.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
from collections.abc import Callable

import numpy as np
import pytest

from datasets_helpers import finishes, gzip_bomb, idx_header, peak_memory
from scratchnn.datasets import DownloadError, RemoteDataset, RemoteFile, download, read_idx
from scratchnn.datasets.download import REMOTE_DATASETS

MiB = 1 << 20
NAME = "tiny-labels-idx1-ubyte"
CONTENT = (
    idx_header(0x08, (1000,))
    + np.random.default_rng(0).integers(0, 10, 1000).astype(np.uint8).tobytes()
)
BLOB = gzip.compress(CONTENT)
SHA = hashlib.sha256(CONTENT).hexdigest()

Respond = Callable[[socket.socket, threading.Event], None]


class RawServer:
    """Answers every connection on 127.0.0.1 with ``respond(conn, stop)``, whatever was asked."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.requests += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    part = conn.recv(4096)
                    if not part:
                        return
                    request += part
                self.respond(conn, self.stop)
            except OSError:  # the client hung up: what a refusing client does
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def raw(monkeypatch):
    """``raw(respond) -> base URL`` of a RawServer; all are closed at the end."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    servers: list[RawServer] = []

    def start(respond: Respond) -> str:
        servers.append(RawServer(respond))
        return servers[-1].url

    start.servers = servers
    yield start
    for server in servers:
        server.close()


def send(data: bytes) -> Respond:
    return lambda conn, stop: conn.sendall(data)


def good(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BLOB) + BLOB)


def endless(conn, stop):
    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")  # no Content-Length: the body ends at close
    zeros = bytes(64 << 10)
    for _ in range(1024):  # 64 MiB at most, should the client never stop reading
        if stop.is_set():
            return
        conn.sendall(zeros)


def drip(head: bytes) -> Respond:
    """``head`` at once, then one byte every 2 s for up to 60 s."""

    def respond(conn, stop):
        conn.sendall(head)
        for _ in range(30):
            if stop.wait(2):
                return
            conn.sendall(b"x")

    return respond


# the 1,008 bytes of content, 1 % more and 64 KiB: what a mirror may send for it
assert RemoteFile(NAME, SHA, size=len(CONTENT)).max_download() == 1008 + 10 + 65536 == 66_554
SPEC = RemoteDataset(
    "tiny", ("http://unused.invalid/",), (RemoteFile(NAME, SHA, size=len(CONTENT)),)
)

BROKEN = {
    "bad status line": (send(b"\x1b[31mHELLO THERE\r\n\r\n"), "bad HTTP status line"),
    "too many headers": (
        send(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n"),
        "bad HTTP response (got more than 100 headers)",
    ),
    "over-long header": (
        send(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n"),
        "bad HTTP response (got more than 65536 bytes when reading header line)",
    ),
    "bad chunk size": (
        send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"),
        "broken chunked response body after 0 bytes (incomplete or malformed)",
    ),
    "chunked body cut short": (
        send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + BLOB[:10]),
        "broken chunked response body after 10 bytes (incomplete or malformed)",
    ),
    "closed without a response": (send(b""), "the server closed the connection without a response"),
    "body shorter than announced": (
        send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + BLOB[:10]),
        "connection closed after 10 of the 1,000 bytes announced",
    ),
    "announces too much": (
        send(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n"),
        "announces 99,999,999,999 bytes, more than the 66,554 expected",
    ),
    "endless body": (endless, "sent more than the 66,554 bytes expected; stopped there"),
}


def fails_with_one_line(spec, tmp_path, mirrors, **kwargs) -> str:
    with pytest.raises(DownloadError) as info:
        finishes(lambda: download(spec, tmp_path / "cache", mirrors=mirrors, **kwargs), 60)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message, message
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
    return message


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_mirror_is_one_line_naming_it_and_the_next_is_tried(tmp_path, raw, case):
    respond, expected = BROKEN[case]
    bad = raw(respond)
    message = fails_with_one_line(SPEC, tmp_path, [bad], timeout=10, deadline=30)
    assert f"could not download {NAME}: {bad}{NAME}.gz: {expected}" in message
    assert "--mirror URL" in message
    lines = []
    good_url = raw(good)
    download(SPEC, tmp_path / "ok", mirrors=[bad, good_url], timeout=10, deadline=30,
             log=lines.append)  # fmt: skip
    assert read_idx(tmp_path / "ok" / f"{NAME}.gz").shape == (1000,)
    assert lines[0].startswith(f"{bad}{NAME}.gz: ") and expected in lines[0]
    assert lines[0].endswith("; trying the next mirror") and good_url in lines[1]


@pytest.mark.parametrize(
    ("where", "head"),
    [
        ("body", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
        ("headers", b"HTTP/1.1 200 OK\r\nX-Slow: "),
    ],
)
def test_a_byte_every_2_s_stops_at_the_deadline_not_the_read_timeout(tmp_path, raw, where, head):
    """A 10 s per-read timeout never fires on a byte every 2 s; the 1.5 s deadline does."""
    slow = raw(drip(head))
    message = fails_with_one_line(SPEC, tmp_path, [slow], timeout=10, deadline=1.5)
    assert f"{slow}{NAME}.gz: not complete after the 1.5 s deadline" in message
    download(SPEC, tmp_path / "ok", mirrors=[slow, raw(good)], timeout=10, deadline=1.5)
    assert (tmp_path / "ok" / f"{NAME}.gz").read_bytes() == BLOB


def test_the_check_streams_a_gzip_bomb_and_stops_at_the_expected_size():
    """6 MB of gzip expanding to 6 GiB: the hash stops one chunk past the content's size."""
    bomb = gzip_bomb(CONTENT, zeros=6 << 30)
    assert len(bomb) < 8 * MiB
    with_size = RemoteFile(NAME, SHA, size=len(CONTENT))
    problem, peak = peak_memory(lambda: finishes(lambda: with_size.check(bomb)))
    assert problem == f"decompresses to more than {len(CONTENT):,} bytes, the size expected"
    assert peak < 4 * MiB
    from_header = RemoteFile(NAME, SHA)  # no size known: the IDX header's is used
    assert from_header.check(bomb) == (
        f"decompresses to more than {len(CONTENT):,} bytes, the size its IDX header declares"
    )
    assert with_size.check(BLOB) is None and from_header.check(BLOB) is None
    assert with_size.check(gzip.compress(CONTENT[:-1])) == (
        f"content is {len(CONTENT) - 1:,} bytes, expected {len(CONTENT):,}"
    )


def test_a_mirror_serving_a_bomb_is_rejected_and_the_next_used(tmp_path, raw):
    bomb = gzip_bomb(CONTENT, zeros=1 << 30)
    spec = RemoteDataset("tiny", ("http://unused.invalid/",), (RemoteFile(NAME, SHA),))
    header = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(bomb)
    bad = raw(send(header + bomb))
    message = fails_with_one_line(spec, tmp_path, [bad], timeout=10, deadline=30)
    assert "rejected, decompresses to more than 1,008 bytes, the size its IDX header" in message
    download(spec, tmp_path / "ok", mirrors=[bad, raw(good)], timeout=10, deadline=30)
    assert (tmp_path / "ok" / f"{NAME}.gz").read_bytes() == BLOB


def test_the_built_in_datasets_know_their_sizes_and_the_real_files_match(mnist_dir):
    for spec in REMOTE_DATASETS.values():
        assert all(f.size is not None for f in spec.files), spec.name
    for remote in REMOTE_DATASETS["mnist"].files:
        blob = (mnist_dir / f"{remote.name}.gz").read_bytes()
        assert remote.check(blob) is None
        assert len(gzip.decompress(blob)) == remote.size
        assert len(blob) <= remote.max_download()


def test_deadline_and_timeout_must_be_positive(tmp_path):
    for bad in (0, -1, float("nan"), "5", True):
        with pytest.raises(Exception, match="must be a positive number of seconds"):
            download(SPEC, tmp_path, mirrors=["http://127.0.0.1:9/"], deadline=bad)
    with pytest.raises(Exception, match="size must be a byte count"):
        RemoteFile(NAME, SHA, size=-1)


def test_the_command_line_deadline_stops_a_dripping_mirror(tmp_path, raw, capsys):
    """``scratchnn download --deadline``: the whole-file limit of the API, on the command line."""
    from scratchnn import cli

    slow = raw(drip(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"))
    args = ["download", "mnist", "--dir", str(tmp_path / "mnist"), "--mirror", slow]
    code = finishes(lambda: cli.main([*args, "--timeout", "10", "--deadline", "1.5"]), 60)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "not complete after the 1.5 s deadline" in err
    assert not (tmp_path / "mnist").exists() or not any((tmp_path / "mnist").iterdir())
    with pytest.raises(SystemExit):
        cli.main([*args, "--deadline", "0"])
    assert "--deadline" in capsys.readouterr().err
