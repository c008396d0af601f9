"""The ``.npz`` container of model and checkpoint files: no pickle, CRC-checked, versioned.

A file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, stored uncompressed) holding

- ``__scratchnn__``: a JSON string (a 0-d unicode array) with the format name, the format
  version and whatever the writer describes (a model's architecture, a training state);
- any number of plain numeric arrays.

:func:`read_npz` parses the archive itself instead of calling ``numpy.load``: only plain
numeric arrays (and the one JSON string) are accepted, an entry holding Python objects is
refused before any of its bytes are interpreted, so opening a file can never run code, and
every entry is read to its end so that the archive's CRC-32 checksum catches a corrupted or
truncated file. Only a regular file is opened (a FIFO or a device is refused without
blocking); an entry named twice, or entries declaring more bytes than the file has, are
refused. :func:`write_npz` writes atomically (:mod:`scratchnn.io.atomic`).

Format versions: 1 (scratchnn 0.1) and 2, which names the class of every saved model
(``{"class": ..., "config": ...}``) and stores a checkpoint's batch order explicitly.
Both are read; a newer version is refused with a message naming it.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ModelFileError
from .atomic import atomic_write
from .regular import open_regular

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "META_KEY", "parse_meta", "read_npz", "write_npz"]

FORMAT_NAME = "scratchnn"
#: Incremented whenever the file layout changes; newer files are refused with a clear error.
FORMAT_VERSION = 2
META_KEY = "__scratchnn__"


def write_npz(
    path: str | os.PathLike[str], meta: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """Atomically write ``arrays`` and the JSON ``meta`` (plus format name and version) to ``path``."""
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **meta}
    try:
        text = json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{path}: metadata must be JSON values (numbers, strings, lists, dicts): {exc}; "
            "check model.metadata"
        ) from None
    payload = {META_KEY: np.array(text)}
    for key, value in arrays.items():
        value = np.asarray(value)
        if value.dtype == object:
            raise InputError(f"refusing to save object array {key!r}: it would need pickle")
        payload[key] = value
    atomic_write(path, lambda fh: np.savez(fh, **payload))


#: dtype kinds a scratchnn file may hold: bool, integers, floats and the JSON string.
_ALLOWED_KINDS = "biufU"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One ``.npy`` entry as an array, checked before any data is interpreted."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise ModelFileError(
            f"{path}: entry {info.filename!r} is compressed, which scratchnn files never are; "
            "only load files that scratchnn saved"
        )
    with archive.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ModelFileError(f"{path}: entry {info.filename!r} has .npy version {version}")
        if dtype.hasobject:
            raise ModelFileError(
                f"{path}: contains pickled Python objects, which scratchnn never loads "
                "(they can run code); only load files that scratchnn saved"
            )
        if dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype:
            raise ModelFileError(
                f"{path}: entry {info.filename!r} has dtype {dtype}, which scratchnn files "
                "never hold; only load files that scratchnn saved"
            )
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > info.file_size:  # never allocate more than the archive can hold
            raise ModelFileError(
                f"{path}: entry {info.filename!r} is truncated ({info.file_size} bytes for "
                f"shape {shape}); use an earlier checkpoint or save the model again"
            )
        data = fh.read(nbytes + 1)  # reading to the end makes zipfile verify the CRC-32
    if len(data) != nbytes:
        raise ModelFileError(
            f"{path}: entry {info.filename!r} holds {len(data)} bytes where its header says "
            f"{nbytes}; the file is corrupted"
        )
    array = np.frombuffer(data, dtype=dtype, count=count)
    if fortran_order:
        return array.reshape(shape[::-1]).T.copy()
    return array.reshape(shape).copy()


def _read_archive(path: Path) -> dict[str, np.ndarray]:
    fh, info = open_regular(path, "a scratchnn file", error=ModelFileError)
    with fh:
        head = fh.read(4)
        if not head:
            raise ModelFileError(f"{path}: file is empty (an interrupted copy?); use another file")
        if head == b"\x93NUM":
            raise ModelFileError(
                f"{path}: is a single .npy array, not a scratchnn .npz file; load it with numpy"
            )
        if head not in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
            raise ModelFileError(
                f"{path}: not a scratchnn file (not an .npz archive); pass a file that "
                "model.save() or a checkpoint wrote"
            )
        fh.seek(0)
        arrays: dict[str, np.ndarray] = {}
        with zipfile.ZipFile(fh) as archive:
            entries = archive.infolist()
            counts = Counter(entry.filename for entry in entries)
            duplicated = sorted(name for name, count in counts.items() if count > 1)
            if duplicated:  # zipfile would silently give the last one
                raise ModelFileError(
                    f"{path}: entry {duplicated[0]!r} appears more than once; the file was "
                    "tampered with or damaged, use another file"
                )
            declared = sum(entry.file_size for entry in entries)
            if declared > info.st_size:  # never trust sizes the bytes cannot hold
                raise ModelFileError(
                    f"{path}: its entries declare {declared:,} bytes but the file has "
                    f"{info.st_size:,}; the file is damaged, use another file"
                )
            for entry in entries:
                if not entry.filename.endswith(".npy"):
                    raise ModelFileError(
                        f"{path}: unexpected entry {entry.filename!r} (not an array); "
                        "only load files that scratchnn saved"
                    )
                arrays[entry.filename[: -len(".npy")]] = _read_entry(archive, entry, path)
    return arrays


def read_npz(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by :func:`write_npz`: ``(meta, arrays)``, never unpickling anything.

    Raises :class:`ModelFileError` for a missing, foreign, corrupted, truncated or too new
    file, and for any entry that would need pickle.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory; pass the .npz file inside it")
    try:
        arrays = _read_archive(path)
    except ModelFileError:
        raise
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied; make the file readable") from None
    except Exception as exc:  # any other failure to parse untrusted bytes means a damaged file
        raise ModelFileError(
            f"{path}: corrupted or truncated ({type(exc).__name__}: {exc}); "
            "use an earlier checkpoint or save the model again"
        ) from None
    meta_array = arrays.pop(META_KEY, None)
    if meta_array is None:
        raise ModelFileError(f"{path}: not a scratchnn file (no {META_KEY} entry)")
    if meta_array.dtype.kind != "U" or meta_array.ndim != 0:
        raise ModelFileError(f"{path}: unreadable metadata (not a JSON string)")
    return parse_meta(str(meta_array), path), arrays


#: How deeply a file's JSON may nest; a GPT's architecture is about a dozen levels.
MAX_DEPTH = 64


def _depth(value: Any) -> int:
    """The nesting depth of a JSON value (0 for a scalar), without recursing."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def parse_meta(text: str, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata of a scratchnn file (``.npz`` or ``.safetensors``), checked: the
    format name, and a version this scratchnn reads. One-line errors name ``path``."""
    try:
        meta = json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: unreadable metadata (not JSON: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a scratchnn file")
    if _depth(meta) > MAX_DEPTH:  # whatever reads it next recurses: refuse it here, once
        raise ModelFileError(
            f"{path}: metadata nested more than {MAX_DEPTH} levels deep, which no scratchnn "
            "file is; the file was tampered with, use another file"
        )
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: invalid format version {version!r}; the file is damaged")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {version} is newer than this scratchnn reads "
            f"({FORMAT_VERSION}); upgrade scratchnn"
        )
    return meta
