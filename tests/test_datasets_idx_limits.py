"""IDX files that would hang the reader or fill the memory: bombs, lying headers, FIFOs, labels."""

from __future__ import annotations

import gzip
import os
import stat

import numpy as np
import pytest

from datasets_helpers import finishes, gzip_bomb, idx_header, peak_memory, unblock_fifo
from scratchnn.datasets import MNIST_FILES, load_mnist, read_idx
from scratchnn.datasets.idx import MAX_IDX_BYTES
from scratchnn.errors import InputError
from scratchnn.io.regular import _refuse_irregular
from test_datasets_mnist import _tiny_set, write_idx

MiB = 1 << 20


def one_line(exc: BaseException, path) -> str:
    text = str(exc)
    assert text.startswith(f"{path}: ") and "\n" not in text, text
    return text


def test_a_6_mb_gzip_that_expands_to_6_gib_is_refused_after_one_byte_too_many(tmp_path):
    """The labels of 10 images, then 6 GiB of zeros: refused, and never decompressed."""
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip_bomb(idx_header(0x08, (10,)) + bytes(range(10)), zeros=6 << 30))
    assert path.stat().st_size < 8 * MiB
    error, peak = peak_memory(lambda: finishes(lambda: read_idx(path)))
    assert isinstance(error, InputError)
    message = one_line(error, path)
    assert "IDX data is longer than its header says (more than 10 bytes for shape (10,)" in message
    assert peak < 8 * MiB  # a chunk of the stream at most, not gigabytes


def test_a_header_declaring_an_absurd_shape_is_refused_before_allocating(tmp_path):
    header = idx_header(0x08, (60000, 28, 28, 1000))  # 47 GB of "images"
    for name, blob in (("raw", header + bytes(100)), ("gz", gzip.compress(header + bytes(100)))):
        path = tmp_path / name
        path.write_bytes(blob)
        error, peak = peak_memory(lambda path=path: read_idx(path))
        assert isinstance(error, InputError)
        assert "more than the 2 GiB limit" in one_line(error, path)
        assert peak < MiB
    with pytest.raises(InputError, match="more than the 1 KiB limit"):
        read_idx(tmp_path / "raw", max_bytes=1024)
    assert MAX_IDX_BYTES == 2 << 30


@pytest.mark.parametrize("gz", [False, True])
def test_a_header_claiming_a_large_size_of_a_tiny_file_allocates_nothing(tmp_path, gz):
    """1 GiB declared (under the limit), 100 bytes present: truncated, memory stays small."""
    blob = idx_header(0x08, (1 << 30,)) + bytes(100)
    path = tmp_path / "lying"
    path.write_bytes(gzip.compress(blob) if gz else blob)
    error, peak = peak_memory(lambda: read_idx(path))
    assert isinstance(error, InputError)
    assert "IDX data is truncated (100 bytes for shape (1073741824,)" in one_line(error, path)
    assert peak < 4 * MiB


def test_uint8_data_is_not_copied_and_stays_writable(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(tmp_path / "i.gz", images, gz=True)
    out = read_idx(tmp_path / "i.gz")
    np.testing.assert_array_equal(out, images)
    assert out.flags.writeable


@pytest.mark.parametrize("target", ["fifo", "link to fifo"])
def test_a_fifo_is_refused_without_blocking(tmp_path, target):
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    path = fifo
    if target == "link to fifo":
        path = tmp_path / "link"
        path.symlink_to(fifo)
    try:
        with pytest.raises(InputError) as info:
            finishes(lambda: read_idx(path), seconds=20)
    finally:
        unblock_fifo(fifo)
    assert "is a FIFO (named pipe), not an IDX file; pass a regular file" in one_line(
        info.value, path
    )


def test_a_fifo_among_the_mnist_files_is_not_taken_for_one(tmp_path):
    _tiny_set(tmp_path / "m")
    (tmp_path / "m" / MNIST_FILES["test_labels"]).unlink()
    os.mkfifo(tmp_path / "m" / MNIST_FILES["test_labels"])
    with pytest.raises(InputError, match="missing t10k-labels-idx1-ubyte"):
        finishes(lambda: load_mnist(tmp_path / "m"))


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        (stat.S_IFCHR, "is a character device"),  # /dev/zero, /dev/urandom
        (stat.S_IFBLK, "is a block device"),
        (stat.S_IFSOCK, "is a socket"),
        (stat.S_IFDIR, "is a directory"),
    ],
)
def test_every_kind_of_non_regular_file_is_named(tmp_path, mode, kind):
    """Devices cannot be made without root (and the real /dev is off limits): the mode alone."""
    with pytest.raises(InputError, match=f"x: {kind}, not an IDX file; pass a regular file"):
        _refuse_irregular(tmp_path / "x", mode | 0o644, "an IDX file")


def _labels_set(tmp_path, labels):
    directory = tmp_path / "m"
    _tiny_set(directory, n_train=len(labels))
    path = directory / MNIST_FILES["train_labels"]
    for old in directory.glob(f"{MNIST_FILES['train_labels']}*"):
        old.unlink()
    write_idx(path, labels)
    return directory, path


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0, 2.5, 1], np.float32), "label 2.5 at index 1 is not a class index"),
        (np.array([0, 1, np.nan], np.float32), "label nan at index 2 is not a class index"),
        (np.array([0, -1.0, 1], np.float32), "label -1.0 at index 1 is not a class index"),
        (np.array([0, 1, 1e19], np.float32), "at index 2 is not a class index"),
        (np.array([3, -7, 1], np.int32), "label -7 at index 1 is negative"),
    ],
)
def test_label_files_that_are_not_class_indices(tmp_path, labels, message):
    directory, path = _labels_set(tmp_path, labels)
    with pytest.raises(InputError, match=message) as info:
        load_mnist(directory)
    assert "class labels must be whole numbers from 0 to 2147483647" in one_line(info.value, path)


def test_whole_float_labels_become_int64(tmp_path):
    directory, _ = _labels_set(tmp_path, np.array([0, 9, 3], np.float32))
    (_, y), _ = load_mnist(directory)
    assert y.dtype == np.int64 and y.tolist() == [0, 9, 3]
