"""``scratchnn download`` against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import shutil
import socket
import threading

import numpy as np
import pytest

from scratchnn import cli
from scratchnn.datasets import (
    MNIST_FILES,
    DownloadError,
    RemoteDataset,
    RemoteFile,
    download,
    load_mnist,
)
from test_datasets_mnist import write_idx


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def serve(tmp_path, monkeypatch):
    """``serve(directory) -> base URL`` of a server on 127.0.0.1; all are shut down at the end."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    servers = []

    def start(directory):
        handler = type("Handler", (_Quiet,), {"requests": []})
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
        )
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append((server, thread))
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        start.requests[base] = handler.requests
        return base

    start.requests = {}
    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


def tiny_idx_set(directory, seed=0, gz=True):
    """Four small MNIST-format files; returns {name: sha256 of the raw content}."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        MNIST_FILES["train_images"]: rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        MNIST_FILES["train_labels"]: rng.integers(0, 10, 20, dtype=np.uint8),
        MNIST_FILES["test_images"]: rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        MNIST_FILES["test_labels"]: rng.integers(0, 10, 5, dtype=np.uint8),
    }
    sums = {}
    for name, array in arrays.items():
        raw = write_idx(directory / (f"{name}.gz" if gz else name), array, gz=gz)
        sums[name] = hashlib.sha256(raw).hexdigest()
    return sums


def spec_for(sums, mirrors=("http://unused.invalid/",)):
    files = tuple(RemoteFile(name, content_sha256=sha) for name, sha in sums.items())
    return RemoteDataset("tiny", mirrors, files)


def corrupt(path):
    """Flip one byte of a .gz file's *content* and compress it again (a valid gzip, wrong data)."""
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[-1] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(raw)))


def test_downloads_verifies_and_loads(tmp_path, serve):
    sums = tiny_idx_set(tmp_path / "server")
    base = serve(tmp_path / "server")
    lines = []
    target = download(spec_for(sums), tmp_path / "cache", mirrors=[base], log=lines.append)
    assert target == tmp_path / "cache"
    (X, y), (Xt, yt) = load_mnist(target)
    assert X.shape == (20, 28, 28) and yt.shape == (5,)
    assert len(lines) == 4 and all("verified" in line for line in lines)
    assert not list(target.glob(".*tmp"))  # atomic writes leave no temporary files


def test_a_corrupted_file_is_rejected_and_the_next_mirror_used(tmp_path, serve):
    sums = tiny_idx_set(tmp_path / "good")
    shutil.copytree(tmp_path / "good", tmp_path / "bad")
    corrupt(tmp_path / "bad" / f"{MNIST_FILES['test_labels']}.gz")
    bad, good = serve(tmp_path / "bad"), serve(tmp_path / "good")
    lines = []
    download(spec_for(sums), tmp_path / "cache", mirrors=[bad, good], log=lines.append)
    fetched = gzip.decompress(
        (tmp_path / "cache" / f"{MNIST_FILES['test_labels']}.gz").read_bytes()
    )
    assert hashlib.sha256(fetched).hexdigest() == sums[MNIST_FILES["test_labels"]]
    assert any(good in line and MNIST_FILES["test_labels"] in line for line in lines)
    assert any(MNIST_FILES["train_images"] in line and bad in line for line in lines)


def test_only_corrupted_copies_fail_and_write_nothing(tmp_path, serve):
    sums = tiny_idx_set(tmp_path / "bad")
    corrupt(tmp_path / "bad" / f"{MNIST_FILES['train_images']}.gz")
    base = serve(tmp_path / "bad")
    with pytest.raises(DownloadError, match="rejected, SHA-256 of the content is") as info:
        download(spec_for(sums), tmp_path / "cache", mirrors=[base])
    assert "\n" not in str(info.value) and "--mirror" in str(info.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_truncated_gzip_missing_file_and_dead_server(tmp_path, serve):
    sums = tiny_idx_set(tmp_path / "server")
    name = MNIST_FILES["train_images"]
    blob = (tmp_path / "server" / f"{name}.gz").read_bytes()
    (tmp_path / "server" / f"{name}.gz").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "empty").mkdir()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    mirrors = [dead, serve(tmp_path / "empty"), serve(tmp_path / "server")]
    with pytest.raises(DownloadError) as info:
        download(spec_for(sums), tmp_path / "cache", mirrors=mirrors, timeout=5)
    message = str(info.value)
    assert "HTTP 404" in message and "corrupted gzip data" in message and dead in message


def test_any_gzip_of_the_true_content_passes_and_present_files_are_kept(tmp_path, serve):
    sums = tiny_idx_set(tmp_path / "server")
    for path in (tmp_path / "server").glob("*.gz"):  # recompress: other bytes, same content
        content = gzip.decompress(path.read_bytes())
        recompressed = gzip.compress(content, compresslevel=1, mtime=12345)
        assert recompressed != path.read_bytes()
        path.write_bytes(recompressed)
    base = serve(tmp_path / "server")
    download(spec_for(sums), tmp_path / "cache", mirrors=[base])
    assert len(serve.requests[base]) == 4
    lines = []
    download(spec_for(sums), tmp_path / "cache", mirrors=[base], log=lines.append)
    assert len(serve.requests[base]) == 4  # nothing fetched the second time
    assert all("already present and verified" in line for line in lines)


def test_gz_md5_checksums(tmp_path, serve):
    tiny_idx_set(tmp_path / "server")
    name = MNIST_FILES["test_labels"]
    blob = (tmp_path / "server" / f"{name}.gz").read_bytes()
    base = serve(tmp_path / "server")
    good = RemoteDataset("f", (base,), (RemoteFile(name, gz_md5=hashlib.md5(blob).hexdigest()),))
    download(good, tmp_path / "ok")
    assert (tmp_path / "ok" / f"{name}.gz").read_bytes() == blob
    wrong = RemoteDataset("f", (base,), (RemoteFile(name, gz_md5="0" * 32),))
    with pytest.raises(DownloadError, match=r"MD5 of the \.gz is"):
        download(wrong, tmp_path / "no")


def test_cli_download_of_the_real_mnist_from_a_local_mirror(tmp_path, serve, mnist_dir, capsys):
    """The published checksums accept the real files, and a corrupted real file is refused."""
    base = serve(mnist_dir)
    assert cli.main(["download", "mnist", "--dir", str(tmp_path / "m"), "--mirror", base]) == 0
    (X, y), (Xt, yt) = load_mnist(tmp_path / "m")
    assert X.shape == (60000, 28, 28) and yt.shape == (10000,)
    assert "mnist is ready in" in capsys.readouterr().out

    (tmp_path / "bad").mkdir()
    for path in mnist_dir.glob("*.gz"):
        shutil.copy(path, tmp_path / "bad" / path.name)
    corrupt(tmp_path / "bad" / "t10k-labels-idx1-ubyte.gz")
    args = ["download", "mnist", "--dir", str(tmp_path / "m2"), "--mirror", serve(tmp_path / "bad")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("scratchnn: error: could not download t10k-labels-idx1-ubyte")
    assert "\n" not in err and "rejected, SHA-256" in err
    assert not (tmp_path / "m2" / "t10k-labels-idx1-ubyte.gz").exists()
