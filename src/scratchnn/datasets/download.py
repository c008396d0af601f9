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

Limits, so that no mirror can hang a download or fill the memory; each failure is one line
naming the mirror, and the next mirror is tried:

- **size**: a mirror may send at most :meth:`RemoteFile.max_download` bytes (the known
  content size plus 1 % and 64 KiB; a gzip of incompressible data is slightly larger than
  its content). A larger ``Content-Length`` is refused before the body is read, an endless
  body as soon as it passes the limit.
- **decompression**: the check decompresses as a stream, hashing as it goes, and stops one
  byte past the content size (from :attr:`RemoteFile.size`, else from the IDX header, else
  :data:`~scratchnn.datasets.idx.MAX_IDX_BYTES`), so a gzip bomb is refused in milliseconds.
- **time**: ``timeout`` bounds each wait for the server, ``deadline`` the whole file from one
  mirror, so a server sending a byte every few seconds (in its headers or its body) is cut
  off when the deadline passes. (The deadline watches a connection once it is made;
  connecting and the TLS handshake are bounded by ``timeout`` per step.)
- **protocol**: a bad status line, too many or too long header lines, a broken chunked body
  or a connection closed early is reported as one line, not an ``http.client`` traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, ScratchnnError
from ..io.atomic import atomic_write_bytes
from ._files import cache_dir
from ._http import Refused, fetch
from .idx import IDX_DTYPES, MAX_IDX_BYTES
from .mnist import MNIST_FILES

__all__ = [
    "DEFAULT_DEADLINE",
    "REMOTE_DATASETS",
    "DownloadError",
    "RemoteDataset",
    "RemoteFile",
    "download",
]

#: Seconds one file may take from one mirror, headers and body together: 15 minutes, time
#: for MNIST's 9.9 MB training images at 11 kB/s.
DEFAULT_DEADLINE = 900.0


class DownloadError(ScratchnnError):
    """No mirror served a file that passed its checksum (or the network was unreachable)."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its standard name (without ``.gz``) and what it must hash to.

    ``content_sha256`` is checked on the decompressed bytes; ``gz_md5`` on the ``.gz`` file
    exactly as served. At least one is required; every one given must match. ``size``, the
    content's length in bytes (decompressed), bounds what a mirror may send and what the
    check decompresses; without it the bounds come from the IDX header.
    """

    name: str
    content_sha256: str | None = None
    gz_md5: str | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        if not (self.content_sha256 or self.gz_md5):
            raise InputError(f"{self.name}: a remote file needs a checksum to verify it")
        if self.size is not None and (
            isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0
        ):
            raise InputError(f"{self.name}: size must be a byte count >= 0, got {self.size!r}")

    def max_download(self) -> int:
        """The most bytes a mirror may send for this file.

        The content size plus 1 % and 64 KiB (gzip adds 5 bytes per 16 KiB of incompressible
        data, and a header); with no known size, :data:`~scratchnn.datasets.idx.MAX_IDX_BYTES`
        plus the same margin.
        """
        size = MAX_IDX_BYTES if self.size is None else self.size
        return size + size // 100 + (64 << 10)

    def check(self, blob: bytes) -> str | None:
        """``None`` if ``blob`` (as served, gzip or raw) is the true file, else what is wrong."""
        if self.gz_md5 is not None:
            got = hashlib.md5(blob, usedforsecurity=False).hexdigest()
            if got != self.gz_md5:
                return f"MD5 of the .gz is {got}, expected {self.gz_md5}"
        if self.content_sha256 is not None:
            if blob[:2] == b"\x1f\x8b":
                try:
                    digest, problem = self._hash_gzip(blob)
                except (OSError, EOFError, zlib.error) as exc:
                    return f"corrupted gzip data ({exc})"
                if problem is not None:
                    return problem
                got = digest.hexdigest()
            else:
                if self.size is not None and len(blob) != self.size:
                    return f"content is {len(blob):,} bytes, expected {self.size:,}"
                got = hashlib.sha256(blob).hexdigest()
            if got != self.content_sha256:
                return f"SHA-256 of the content is {got}, expected {self.content_sha256}"
        return None

    def _hash_gzip(self, blob: bytes) -> tuple[Any, str | None]:
        """SHA-256 of the decompressed content, read 1 MiB at a time and never past its size."""
        stream = gzip.GzipFile(fileobj=io.BytesIO(blob), mode="rb")
        digest, total, limit = hashlib.sha256(), 0, None
        while chunk := stream.read(1 << 20):
            if limit is None:
                limit = self.size if self.size is not None else _idx_size(chunk)
            digest.update(chunk)
            total += len(chunk)
            if total > limit:
                return digest, (
                    f"decompresses to more than {limit:,} bytes, the size "
                    f"{'expected' if self.size is not None else 'its IDX header declares'}"
                )
        if self.size is not None and total != self.size:
            return digest, f"content is {total:,} bytes, expected {self.size:,}"
        return digest, None


def _idx_size(head: bytes) -> int:
    """The total size an IDX header at the start of ``head`` declares (else the IDX limit)."""
    if len(head) >= 4 and head[:2] == b"\x00\x00" and head[2] in IDX_DTYPES:
        header = 4 + 4 * head[3]
        if len(head) >= header:
            shape = [int.from_bytes(head[i : i + 4], "big") for i in range(4, header, 4)]
            declared = header + math.prod(shape) * IDX_DTYPES[head[2]].itemsize
            return min(declared, header + MAX_IDX_BYTES)
    return MAX_IDX_BYTES


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
                size=47040016,
                content_sha256="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            ),
            RemoteFile(
                MNIST_FILES["train_labels"],
                size=60008,
                content_sha256="65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
            RemoteFile(
                MNIST_FILES["test_images"],
                size=7840016,
                content_sha256="0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            RemoteFile(
                MNIST_FILES["test_labels"],
                size=10008,
                content_sha256="ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        ),
    ),
    "fashion-mnist": RemoteDataset(
        "fashion-mnist",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        files=(
            RemoteFile(
                MNIST_FILES["train_images"],
                size=47040016,
                gz_md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            ),
            RemoteFile(
                MNIST_FILES["train_labels"], size=60008, gz_md5="25c81989df183df01b3e8a0aad5dffbe"
            ),
            RemoteFile(
                MNIST_FILES["test_images"], size=7840016, gz_md5="bef4ecab320f06d8554ea6380940ec79"
            ),
            RemoteFile(
                MNIST_FILES["test_labels"], size=10008, gz_md5="bb300cfdad3c16e7a12a480ee83cd310"
            ),
        ),
    ),
}


def _existing(directory: Path, remote: RemoteFile) -> Path | None:
    """The file already in ``directory`` if it verifies, else ``None``."""
    for candidate in (directory / f"{remote.name}.gz", directory / remote.name):
        if candidate.is_file():
            try:
                if candidate.stat().st_size > remote.max_download():
                    return None
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
    deadline: float = DEFAULT_DEADLINE,
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
        Seconds to wait for a server (to connect, or for the next bytes) before trying the
        next mirror.
    progress : bool
        Show a progress bar per file on stderr.
    log : callable, optional
        Called with one line per file (``print`` on the command line), and one per mirror
        that failed when another is left to try.
    deadline : float
        Seconds one file may take from one mirror, from the request to the last byte
        (:data:`DEFAULT_DEADLINE`, 15 minutes); then the next mirror is tried.

    Raises
    ------
    DownloadError
        If no mirror serves a file that verifies; the message lists what each mirror did.
        Nothing unverified is ever written.
    """
    for value, what in ((timeout, "timeout"), (deadline, "deadline")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise InputError(f"{what} must be a positive number of seconds, got {value!r}")
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
        for number, base in enumerate(bases, 1):
            url = base.rstrip("/") + f"/{remote.name}.gz"
            try:
                blob = fetch(url, timeout, deadline, remote.max_download(), progress, remote.name)
                problem = remote.check(blob)
                if problem is not None:
                    raise Refused(f"rejected, {problem}")
            except Refused as exc:
                problems.append(f"{url}: {exc}")
                if number < len(bases):
                    log(f"{url}: {exc}; trying the next mirror")
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
