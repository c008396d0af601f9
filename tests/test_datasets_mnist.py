"""IDX reader and MNIST loader, on real MNIST and on hand-made broken files."""

from __future__ import annotations

import gzip
import hashlib
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnn.datasets import MNIST_FILES, find_mnist, load_mnist, read_idx
from scratchnn.errors import InputError


def write_idx(path, array, gz=False):
    codes = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim])
    header += np.array(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return data


def test_real_mnist_loads_with_the_published_content(mnist_dir):
    (X, y), (Xt, yt) = load_mnist(mnist_dir)
    assert X.shape == (60000, 28, 28) and X.dtype == np.uint8
    assert Xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    # the decompressed bytes are the published files (CONTENT-SHA256)
    sums = dict(
        line.split()[::-1] for line in (mnist_dir / "CONTENT-SHA256").read_text().splitlines()
    )
    raw = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == sums["t10k-labels-idx1-ubyte"]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_roundtrip(tmp_path, gz, dtype):
    array = (np.arange(24) * 3).reshape(2, 3, 4).astype(dtype)
    write_idx(tmp_path / "a", array, gz=gz)
    out = read_idx(tmp_path / "a")
    np.testing.assert_array_equal(out, array)
    assert out.dtype.isnative


def test_wrong_magic(tmp_path):
    (tmp_path / "bad").write_bytes(b"PK\x03\x04" + b"\x00" * 20)
    with pytest.raises(InputError, match="wrong magic number"):
        read_idx(tmp_path / "bad")


def test_truncated_data_and_trailing_bytes(tmp_path):
    data = write_idx(tmp_path / "ok", np.zeros((5, 2, 2), dtype=np.uint8))
    (tmp_path / "short").write_bytes(data[:-3])
    with pytest.raises(InputError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(data + b"xx")
    with pytest.raises(InputError, match="longer than its header"):
        read_idx(tmp_path / "long")


def test_corrupted_gzip(tmp_path):
    blob = gzip.compress(b"\x00\x00\x08\x01" + np.array([3], ">u4").tobytes() + b"abc")
    (tmp_path / "x.gz").write_bytes(blob[:-6])
    with pytest.raises(InputError, match="corrupted or truncated gzip"):
        read_idx(tmp_path / "x.gz")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_idx(tmp_path / "nope")


def _tiny_set(directory, n_train=6, n_test=4, labels_train=None):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    write_idx(
        directory / MNIST_FILES["train_images"],
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
    )
    labels_train = n_train if labels_train is None else labels_train
    write_idx(
        directory / MNIST_FILES["train_labels"],
        rng.integers(0, 10, labels_train, dtype=np.uint8),
        gz=True,
    )
    write_idx(
        directory / MNIST_FILES["test_images"],
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
    )
    write_idx(directory / MNIST_FILES["test_labels"], rng.integers(0, 10, n_test, dtype=np.uint8))


def test_any_directory_with_the_four_files_works(tmp_path):
    _tiny_set(tmp_path / "fashion")
    (X, y), (Xt, yt) = load_mnist(tmp_path / "fashion")
    assert X.shape == (6, 28, 28) and yt.shape == (4,)


def test_search_order_env_then_cache(tmp_path, monkeypatch):
    _tiny_set(tmp_path / "data" / "mnist")
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert find_mnist() == tmp_path / "data" / "mnist"
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "empty"))
    _tiny_set(tmp_path / "cache" / "scratchnn" / "mnist")
    assert find_mnist() == tmp_path / "cache" / "scratchnn" / "mnist"


def test_not_found_explains_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="--data-dir"):
        find_mnist()
    with pytest.raises(InputError, match="directory not found"):
        find_mnist(tmp_path / "missing")
    (tmp_path / "half").mkdir()
    with pytest.raises(InputError, match="missing train-images"):
        find_mnist(tmp_path / "half")


def test_mismatched_counts(tmp_path):
    _tiny_set(tmp_path / "m", labels_train=5)
    with pytest.raises(InputError, match="6 train images but 5 labels"):
        load_mnist(tmp_path / "m")


# -- property-based: whatever the bytes, read_idx returns an array or raises InputError -----
_idx_settings = settings(max_examples=300, deadline=None)


def _read_or_input_error(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return read_idx(path)
        except InputError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            return None


@_idx_settings
@given(data=st.binary(max_size=64), gz=st.booleans())
def test_random_bytes_never_crash_read_idx(tmp_path_factory, data, gz):
    path = tmp_path_factory.mktemp("idx") / "random"
    path.write_bytes(gzip.compress(data) if gz else data)
    _read_or_input_error(path)


@_idx_settings
@given(
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07, 0xFF]),
    shape=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 5), min_size=0, max_size=5),
    extra=st.integers(-8, 8),
    gz=st.booleans(),
)
def test_lying_idx_headers_never_crash_read_idx(tmp_path_factory, code, shape, extra, gz):
    """Headers claiming huge or zero sizes, unknown types, data too short or too long."""
    header = bytes([0, 0, code, len(shape)]) + np.array(shape, dtype=">u4").tobytes()
    small = math.prod(shape) if math.prod(shape) < 64 else 64
    payload = header + bytes(max(small + extra, 0))
    path = tmp_path_factory.mktemp("idx") / "lying"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    out = _read_or_input_error(path)
    if out is not None:
        assert out.shape == tuple(shape)
