"""CSV files that would hang the reader, fill the memory or break a message: the limits."""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import zipfile

import numpy as np
import pytest

from datasets_helpers import finishes, peak_memory, unblock_fifo
from scratchnn import cli
from scratchnn.datasets import csv_file, load_csv, read_table
from scratchnn.datasets.tabular import MAX_FIELD_CHARS, load_features
from scratchnn.errors import InputError

MiB = 1 << 20
ROWS = "".join(f"{i * 0.5},{i % 3},{i % 2}\n" for i in range(40))
CSV = "a,b,label\n" + ROWS


def one_line(exc: BaseException, path) -> str:
    text = str(exc)
    assert text.startswith(f"{path}: ") and "\n" not in text, text
    return text


def refused(path, match, **kwargs) -> str:
    with pytest.raises(InputError, match=match) as info:
        finishes(lambda: load_csv(path, **kwargs))
    return one_line(info.value, path)


# -- non-regular files ----------------------------------------------------------------------
@pytest.mark.parametrize("reader", [load_csv, lambda p: load_features(p, ["a"]), read_table])
def test_a_fifo_is_refused_without_blocking(tmp_path, reader):
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    try:
        with pytest.raises(InputError) as info:
            finishes(lambda: reader(fifo), seconds=20)
    finally:
        unblock_fifo(fifo)
    assert "is a FIFO (named pipe), not a CSV file; pass a regular file" in one_line(
        info.value, fifo
    )


def test_a_character_device_is_refused_before_it_is_opened(tmp_path, monkeypatch):
    """What ``--dataset /dev/zero`` does, without touching the real /dev: stat says "device"."""
    path = tmp_path / "zero"
    real_stat, opened = os.stat, []
    device = os.stat_result((stat.S_IFCHR | 0o666, 0, 0, 1, 0, 0, 0, 0, 0, 0))
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: device if p == path else real_stat(p))
    monkeypatch.setattr(os, "open", lambda *a, **k: opened.append(a) or 1 / 0)
    refused(path, "zero: is a character device, not a CSV file; pass a regular file")
    assert opened == []


def test_a_fifo_through_train_evaluate_and_predict_exits_2_with_one_line(tmp_path, capsys):
    fifo = tmp_path / "points.csv"
    os.mkfifo(fifo)
    idx_fifo = tmp_path / "t10k-images-idx3-ubyte"
    os.mkfifo(idx_fifo)
    run = tmp_path / "run"
    assert cli.main(["train", "--dataset", "moons", "--n", "200", "--epochs", "1",
                     "--out", str(run), "--verbose", "0", "--no-plots"]) == 0  # fmt: skip
    capsys.readouterr()
    try:
        for args in (
            ["train", "--dataset", str(fifo), "--out", str(tmp_path / "r2"), "--no-plots"],
            ["evaluate", "--model", str(run), "--dataset", str(fifo)],
            ["predict", "--model", str(run), "--input", str(fifo)],
            ["predict", "--model", str(run), "--input", str(idx_fifo)],
        ):
            assert finishes(lambda args=args: cli.main(args), seconds=60) == 2, args
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and "is a FIFO (named pipe)" in lines[0], (args, lines)
    finally:
        unblock_fifo(fifo)
        unblock_fifo(idx_fifo)


# -- sizes: file, line, field -----------------------------------------------------------
def test_a_line_over_the_limit_is_refused_naming_it(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a,label\n1,0\n" + "7" * (MiB + 1) + ",1\n2,1\n")
    refused(path, "line 3 is longer than 1 MiB, the limit for a CSV line")
    path.write_text("a,label\r1,0\r2,1\r" + "x" * (2 * MiB) + "\r")  # old Mac line ends
    refused(path, "line 4 is longer than 1 MiB")
    path.write_bytes(b"a,label\n" + b"1" * (40 * MiB))  # no line end at all: stops early
    error, peak = peak_memory(lambda: load_csv(path))
    assert "line 2 is longer than 1 MiB" in one_line(error, path)
    assert peak < 60 * MiB  # the file's 40 MiB once, and a few MiB of scan


def test_a_huge_class_name_is_refused(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("a,label\n1,cat\n2," + "d" * (MAX_FIELD_CHARS + 1) + "\n3,cat\n")
    message = refused(path, "label on line 3 of target column 'label' is 257 characters long")
    assert len(message) < 300
    path.write_text("a,label\n1,cat\n2," + "d" * MAX_FIELD_CHARS + "\n")
    assert len(load_csv(path).classes[1]) == MAX_FIELD_CHARS


def test_a_huge_column_name_is_refused(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a," + "b" * 300 + ",label\n1,2,0\n3,4,1\n")
    message = refused(path, r"column name 'bbbb\S*\.\.\. is longer than 256 characters")
    assert len(message) < 200


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_file, "MAX_CSV_BYTES", 100)
    path = tmp_path / "big.csv"
    path.write_text(CSV)
    refused(path, "is 350 bytes, more than 100 bytes, the limit for a CSV file")


def test_messages_quote_at_most_a_little_of_a_bad_value(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("a,label\n" + "z" * 5000 + ",0\n1,1\n")
    assert len(refused(path, "'a' are not numeric")) < 300


# -- labels -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("10000000000000000000", "10000000000000000000"),  # read as uint64
        ("1e19", "1e+19"),
        ("-1e19", "-1e+19"),
        ("9007199254740993", "9007199254740993"),  # 2**53 + 1: float64 would round it
        ("inf", "inf"),
    ],
)
def test_whole_number_labels_beyond_2_to_the_53_are_refused(tmp_path, label, shown):
    path = tmp_path / "labels.csv"
    path.write_text(f"a,label\n1,0\n2,{label}\n3,1\n")
    refused(
        path,
        f"label {re.escape(shown)} on line 3 of target column 'label' is too large",
        task="classification",
    )


def test_labels_up_to_2_to_the_53_keep_their_value(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(f"a,label\n1,-{2**53}\n2,{2**53}\n")
    assert load_csv(path).classes == [-(2**53), 2**53]


# -- compressed files, headers ------------------------------------------------------------
def test_gzip_csv_is_read_like_plain_csv(tmp_path):
    plain, packed = tmp_path / "d.csv", tmp_path / "d.csv.gz"
    plain.write_text(CSV)
    packed.write_bytes(gzip.compress(CSV.encode()))
    a, b = load_csv(plain), load_csv(packed)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.feature_names == b.feature_names == ["a", "b"]
    (tmp_path / "odd-name.txt").write_bytes(gzip.compress(CSV.encode()))  # magic, not name
    assert load_csv(tmp_path / "odd-name.txt").X.shape == (40, 2)


def test_a_damaged_or_huge_gzip_csv_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "d.csv.gz"
    blob = gzip.compress(CSV.encode())
    path.write_bytes(blob[:-10])
    refused(path, "corrupted or truncated gzip data")
    monkeypatch.setattr(csv_file, "MAX_CSV_BYTES", 1000)
    path.write_bytes(gzip.compress((CSV * 1000).encode()))
    refused(path, "decompresses to more than 1000 bytes, the limit for a CSV file")


def test_other_compressions_are_refused_with_one_line(tmp_path):
    path = tmp_path / "d.csv.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("d.csv", CSV)
    path.write_bytes(buffer.getvalue())
    refused(path, "is zip-compressed; only plain or gzip-compressed CSV is read")


@pytest.mark.parametrize(
    "header",
    ['a,"b\nc",label', '"a\n",a,label', "\u2028,b,label", "a\x85,b,label"],
    ids=["quoted newline", "quoted newline repeats a name", "line separator", "NEL"],
)
def test_a_header_with_a_line_break_in_a_name_is_one_line(tmp_path, header):
    path = tmp_path / "h.csv"
    path.write_text(header + "\n" + ROWS, encoding="utf-8")
    refused(path, "holds a line break or control character")
