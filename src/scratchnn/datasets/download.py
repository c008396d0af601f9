"""Downloading MNIST-format datasets into the per-user cache, verified against known checksums.

``scratchnn download mnist`` fetches the four IDX files from the usual public mirrors (tried
in order until one serves a file that verifies) into :func:`~scratchnn.datasets.cache_dir`,
where :func:`~scratchnn.datasets.load_mnist` finds them.

Verification:

- **MNIST**: the SHA-256 of each file's *decompressed* content (the bytes of the original
  IDX files), so any gzip of the true files passes, whichever tool or level compressed it.
  The hashes are those of the real files in the project's ``shared/data/mnist``
  (``CONTENT-SHA256``), whose ``.gz`` files have the MD5 sums the mirrors publish.
- **Fashion-MNIST**: the MD5 of each ``.gz`` file as published by its authors in the
  Fashion-MNIST README (github.com/zalandoresearch/fashion-mnist, "Get the Data"); they
  publish no content hash, so here the exact compressed file is what is checked.

A file is written only after it verifies, atomically (temporary file, fsync, rename), so an
interrupted or corrupted download never leaves a file that :func:`load_mnist` would read.
Files already present and valid are not downloaded again.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import InputError, ScratchnnError
from ..io.atomic import atomic_write_bytes
from .mnist import MNIST_FILES, cache_dir

__all__ = ["REMOTE_DATASETS", "DownloadError", "RemoteDataset", "RemoteFile", "download"]


class DownloadError(ScratchnnError):
    """No mirror served a file that passed its checksum (or the network was unreachable)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its standard name (without ``.gz``) and what it must hash to.

    ``content_sha256`` is checked on the decompressed bytes; ``gz_md5`` on the ``.gz`` file
    exactly as served. At least one is required; every one given must match.
    """

    name: str
    content_sha256: str | None = None
    gz_md5: str | None = None

    def __post_init__(self) -> None:
        if not (self.content_sha256 or self.gz_md5):
            raise InputError(f"{self.name}: a remote file needs a checksum to verify it")

    def check(self, blob: bytes) -> str | None:
        """``None`` if ``blob`` (as served, gzip or raw) is the true file, else what is wrong."""
        if self.gz_md5 is not None:
            got = hashlib.md5(blob, usedforsecurity=False).hexdigest()
            if got != self.gz_md5:
                return f"MD5 of the .gz is {got}, expected {self.gz_md5}"
        if self.content_sha256 is not None:
            content = blob
            if blob[:2] == b"\x1f\x8b":
                try:
                    content = gzip.decompress(blob)
                except (OSError, EOFError, zlib.error) as exc:
                    return f"corrupted gzip data ({exc})"
            got = hashlib.sha256(content).hexdigest()
            if got != self.content_sha256:
                return f"SHA-256 of the content is {got}, expected {self.content_sha256}"
        return None


@dataclass(frozen=True)
class RemoteDataset:
    """A dataset of several files and the mirrors (base URLs) that serve them as ``<name>.gz``."""

    name: str
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]


REMOTE_DATASETS: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        "mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        files=(
            RemoteFile(
                MNIST_FILES["train_images"],
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            ),
            RemoteFile(
                MNIST_FILES["train_labels"],
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
            RemoteFile(
                MNIST_FILES["test_images"],
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            RemoteFile(
                MNIST_FILES["test_labels"],
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        ),
    ),
    "fashion-mnist": RemoteDataset(
        "fashion-mnist",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files=(
            RemoteFile(MNIST_FILES["train_images"], gz_md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            RemoteFile(MNIST_FILES["train_labels"], gz_md5="25c81989df183df01b3e8a0aad5dffbe"),
            RemoteFile(MNIST_FILES["test_images"], gz_md5="bef4ecab320f06d8554ea6380940ec79"),
            RemoteFile(MNIST_FILES["test_labels"], gz_md5="bb300cfdad3c16e7a12a480ee83cd310"),
        ),
    ),
}


def _fetch(url: str, timeout: float, progress: bool, label: str) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = response.headers.get("Content-Length")
        bar = None
        if progress:
            bar = tqdm(
                total=int(total) if total and total.isdigit() else None,
                desc=label,
                unit="B",
                unit_scale=True,
                leave=False,
                file=sys.stderr,
            )
        chunks = []
        try:
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    return b"".join(chunks)


def _existing(directory: Path, remote: RemoteFile) -> Path | None:
    """The file already in ``directory`` if it verifies, else ``None``."""
    for candidate in (directory / f"{remote.name}.gz", directory / remote.name):
        if candidate.is_file():
            try:
                if remote.check(candidate.read_bytes()) is None:
                    return candidate
            except OSError:
                return None
    return None


def download(
    name: str | RemoteDataset = "mnist",
    directory: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = 60.0,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Download a dataset's files into ``directory`` (default: the per-user cache); returns it.

    Parameters
    ----------
    name : str or RemoteDataset
        ``"mnist"`` or ``"fashion-mnist"`` (see :data:`REMOTE_DATASETS`), or your own
        :class:`RemoteDataset`.
    directory : path-like, optional
        Where to put the files; ``cache_dir(name)`` by default.
    mirrors : list of str, optional
        Base URLs to try instead of the dataset's own (each serving ``<file>.gz``).
    timeout : float
        Seconds to wait for a server before trying the next mirror.
    progress : bool
        Show a progress bar per file on stderr.
    log : callable, optional
        Called with one line per file (``print`` on the command line).

    Raises
    ------
    DownloadError
        If no mirror serves a file that verifies; the message lists what each mirror did.
        Nothing unverified is ever written.
    """
    if isinstance(name, RemoteDataset):
        spec = name
    else:
        key = str(name).lower()
        if key not in REMOTE_DATASETS:
            raise InputError(
                f"unknown dataset {name!r} to download; choose one of {', '.join(REMOTE_DATASETS)}"
            )
        spec = REMOTE_DATASETS[key]
    directory = Path(directory).expanduser() if directory is not None else cache_dir(spec.name)
    bases = tuple(mirrors) if mirrors else spec.mirrors
    log = log or (lambda line: None)

    for remote in spec.files:
        found = _existing(directory, remote)
        if found is not None:
            log(f"{found}: already present and verified")
            continue
        problems = []
        for base in bases:
            url = base.rstrip("/") + f"/{remote.name}.gz"
            try:
                blob = _fetch(url, timeout, progress, remote.name)
            except urllib.error.HTTPError as exc:
                problems.append(f"{url}: HTTP {exc.code}")
                continue
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                problems.append(f"{url}: {reason}")
                continue
            problem = remote.check(blob)
            if problem is not None:
                problems.append(f"{url}: rejected, {problem}")
                continue
            target = directory / (f"{remote.name}.gz" if blob[:2] == b"\x1f\x8b" else remote.name)
            atomic_write_bytes(target, blob)
            log(f"{target}: downloaded from {base} and verified ({len(blob):,} bytes)")
            break
        else:
            raise DownloadError(
                f"could not download {remote.name}: {'; '.join(problems)}; check the network "
                "connection or pass another mirror with --mirror URL"
            )
    return directory
