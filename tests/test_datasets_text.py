"""The names data, read_lines' refusals, the character tokenizer, the split and the layouts."""

from __future__ import annotations

import collections
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO
from datasets_helpers import finishes, peak_memory, unblock_fifo
from scratchnn.datasets import (
    CharTokenizer,
    encode_batch,
    find_names,
    joined_stream,
    load_names,
    read_lines,
    split_names,
    windows,
)
from scratchnn.datasets.text import IGNORE_INDEX, MAX_LINE_CHARS, MAX_TEXT_BYTES
from scratchnn.errors import InputError

MiB = 1 << 20


def _names_dir() -> Path | None:
    """$SCRATCHNN_DATA/names, else the project's ../shared/data/names."""
    env = os.environ.get("SCRATCHNN_DATA")
    for base in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if (base / "names" / "names.txt").is_file():
            return base / "names"
    return None


@pytest.fixture(scope="module")
def names_dir():
    found = _names_dir()
    if found is None:
        pytest.skip("names.txt not found: set SCRATCHNN_DATA to a directory holding names/")
    return found


def one_line(exc: BaseException, path=None) -> str:
    text = str(exc)
    assert "\n" not in text, text
    if path is not None:
        assert text.startswith(f"{path}: "), text
    return text


def makemore_windows(names, stoi, block_size):
    """makemore's own loop (part 2, the MLP), the reference for ``windows``."""
    X, Y = [], []
    for w in names:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = [*context[1:], ix]
    return np.array(X, dtype=np.int64).reshape(-1, block_size), np.array(Y, dtype=np.int64)


# -- the real file --------------------------------------------------------------------------
def test_the_real_names_file_loads_with_its_published_checksum(names_dir):
    path = find_names(names_dir)
    sums = dict(line.split()[::-1] for line in (names_dir / "SHA256SUMS").read_text().splitlines())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sums["names.txt"]
    names = load_names(names_dir)
    # 32,033 names: the file has 32,032 line ends and no line end after the last name
    assert len(names) == 32_033 and path.read_bytes().count(b"\n") == 32_032
    assert names[:3] == ["emma", "olivia", "ava"] and names[-1] == "zzyzx"
    assert len(set(names)) == 29_494
    tok = CharTokenizer.fit(names)
    assert tok.vocab_size == 27 and tok.itos[0] == "." and tok.stoi["a"] == 1
    assert "".join(tok.itos) == ".abcdefghijklmnopqrstuvwxyz"
    X, Y = windows(names, tok, block_size=3)
    assert X.shape == (228_146, 3) and Y.shape == (228_146,)  # makemore's count
    batch = encode_batch(names, tok)
    assert batch.ids.shape == (32_033, 17)  # the longest name has 15 characters
    assert int(batch.mask.sum()) == len(Y)
    assert joined_stream(names, tok).shape == (228_146 + 1,)


def test_the_search_order_is_mnists(tmp_path, monkeypatch, names_dir):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SCRATCHNN_DATA", str(names_dir.parent))
    assert find_names() == names_dir / "names.txt"  # $SCRATCHNN_DATA/names
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "names.txt").write_text("ann\nbob\n")
    monkeypatch.setenv("SCRATCHNN_DATA", str(flat))
    assert find_names() == flat / "names.txt"  # $SCRATCHNN_DATA itself
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "nowhere"))
    cache = tmp_path / "cache" / "scratchnn" / "names"
    cache.mkdir(parents=True)
    (cache / "names.txt").write_text("cy\n")
    assert find_names() == cache / "names.txt" and load_names() == ["cy"]
    # --data-dir: the directory, its names/ subdirectory, or the file itself
    assert find_names(flat) == flat / "names.txt"
    assert find_names(tmp_path / "cache" / "scratchnn") == cache / "names.txt"
    assert find_names(flat / "names.txt") == flat / "names.txt"


def test_not_found_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(InputError) as info:
        find_names()
    message = one_line(info.value)
    assert message.startswith(f"names not found in {tmp_path / 'nothing' / 'names'}, ")
    assert "pass --data-dir DIR, set SCRATCHNN_DATA, or put names.txt in" in message
    with pytest.raises(InputError, match="directory not found; check --data-dir"):
        find_names(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no names\.txt here or in"):
        find_names(tmp_path / "empty")


# -- read_lines ------------------------------------------------------------------------------
def test_read_lines_strips_skips_blank_lines_and_takes_crlf_and_a_bom(tmp_path):
    path = tmp_path / "n.txt"
    path.write_bytes("\ufeffann\r\n  bob \r\n\r\n\tcy\nzoë".encode())
    assert read_lines(path) == ["ann", "bob", "cy", "zoë"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty; expected one item per line"),
        (b"  \n\n \t\r\n", "holds only blank lines"),
        (
            b"ann\nbob\n\xff\xfecy\n",
            r"not UTF-8 text \(byte 0xff on line 3\); save the file as UTF-8",
        ),
        (b"ann\nb\xc3\n", r"not UTF-8 text \(byte 0xc3 on line 2\)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"binary content \(a NUL byte on line 3\)"),
        (b"ann\n" + b"x" * (MAX_LINE_CHARS + 1) + b"\n", "line 2 is 1,025 characters long"),
    ],
    ids=["empty", "blank", "latin-1", "cut UTF-8", "binary", "long line"],
)
def test_read_lines_refusals_are_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        read_lines(path)
    one_line(info.value, path)


def test_read_lines_refuses_missing_files_directories_and_fifos(tmp_path):
    with pytest.raises(InputError, match="file not found; check the path") as info:
        read_lines(tmp_path / "nope.txt")
    one_line(info.value, tmp_path / "nope.txt")
    with pytest.raises(InputError, match="is a directory, not a text file"):
        read_lines(tmp_path)
    fifo = tmp_path / "names.txt"
    os.mkfifo(fifo)
    try:
        with pytest.raises(InputError) as info:
            finishes(lambda: read_lines(fifo), seconds=20)
        assert "is a FIFO (named pipe), not a text file" in one_line(info.value, fifo)
        # and through the search: the FIFO is no names file
        with pytest.raises(InputError, match=r"no names\.txt here"):
            finishes(lambda: load_names(tmp_path))
        with pytest.raises(InputError, match="is a FIFO"):
            finishes(lambda: load_names(fifo))
    finally:
        unblock_fifo(fifo)


def test_read_lines_refuses_a_file_over_the_size_limit_before_reading(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as fh:
        fh.truncate(MAX_TEXT_BYTES + 1)  # sparse: no disk used
    error, peak = peak_memory(lambda: read_lines(path))
    assert isinstance(error, InputError)
    assert "is 67,108,865 bytes, more than 64 MiB, the limit for a text file" in one_line(
        error, path
    )
    assert peak < MiB
    small = tmp_path / "small.txt"
    small.write_text("ann\nbob\n")
    with pytest.raises(InputError, match="is 8 bytes, more than 4 bytes"):
        read_lines(small, max_bytes=4)


# -- tokenizer -------------------------------------------------------------------------------
def test_tokenizer_round_trips_every_name_and_its_config_through_json(names_dir):
    names = load_names(names_dir)
    tok = CharTokenizer.fit(names)
    encoded, skipped = tok.encode_names(names)
    assert skipped == 0 and [tok.decode(ids) for ids in encoded] == names
    config = json.loads(json.dumps(tok.get_config()))
    assert config == {"type": "CharTokenizer", "boundary": ".", "chars": "".join(tok.itos[1:])}
    again = CharTokenizer.from_config(config)
    assert again == tok and again.stoi == tok.stoi and again.encode("zoe") == tok.encode("zoe")


def test_tokenizer_from_a_vocabulary_keeps_its_order_and_any_unicode():
    tok = CharTokenizer(["é", "a", "ß", "😀"], boundary="|")
    assert tok.itos == ["|", "é", "a", "ß", "😀"] and tok.vocab_size == 5
    assert tok.encode("aé😀ß") == [2, 1, 4, 3] and tok.decode([0, 2, 1, 0]) == "|aé|"
    assert tok.decode(np.array([4, 3], dtype=np.uint8)) == "😀ß" and tok.decode([]) == ""


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["ann", "bo-b"], r"unknown character '-' in name 'bo-b' \(number 2\)"),
        (["ann", "Bob"], r"unknown character 'B' in name 'Bob' \(number 2\)"),
        (["a.b"], r"name 'a\.b' \(number 1\) contains the boundary character '\.'"),
    ],
)
def test_unknown_characters_and_the_boundary_are_one_line_errors(names, message):
    tok = CharTokenizer("abno")
    with pytest.raises(InputError, match=message) as info:
        tok.encode_names(names)
    assert "skip_unknown=True" in one_line(info.value)
    with pytest.raises(InputError, match=message):
        windows(names, tok, 3)


def test_skip_unknown_leaves_out_and_counts_the_names_it_cannot_encode():
    tok = CharTokenizer.fit(["ann", "bob"])
    encoded, skipped = tok.encode_names(["bob", "zed", "a.n", "nab", "Ann"], skip_unknown=True)
    assert skipped == 3 and [tok.decode(ids) for ids in encoded] == ["bob", "nab"]
    assert tok.known(["zed", "ann", "bo b"]) == (["ann"], 2)
    assert tok.encode_names([], skip_unknown=True) == ([], 0)


def test_fit_refuses_names_holding_the_boundary():
    with pytest.raises(InputError, match=r"name 'a\.b' contains the boundary character '\.'"):
        CharTokenizer.fit(["ann", "a.b"])
    assert CharTokenizer.fit(["a.b"], boundary="|").itos == ["|", ".", "a", "b"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CharTokenizer(""), "the vocabulary is empty"),
        (lambda: CharTokenizer("aba"), "repeated characters in the vocabulary: 'a'"),
        (lambda: CharTokenizer("a.b"), "the boundary '.' cannot also be a character"),
        (lambda: CharTokenizer(["ab"]), "every vocabulary entry must be one character"),
        (lambda: CharTokenizer("ab", boundary=".."), "boundary must be one character"),
        (lambda: CharTokenizer.from_config({"chars": 5}), "needs chars as a string"),
        (lambda: CharTokenizer.from_config({"chars": "ab", "x": 1}), "not a CharTokenizer"),
        (lambda: CharTokenizer.from_config({"type": "BPE", "chars": "ab"}), "not a CharTokenizer"),
        (lambda: CharTokenizer.from_config("ab"), "config must be a dict"),
        (lambda: CharTokenizer("ab").decode([0, 3]), r"id 3 is outside the vocabulary \(0 .. 2\)"),
        (lambda: CharTokenizer("ab").decode([[1]]), "decode takes a 1-D sequence"),
        (lambda: CharTokenizer("ab").decode([0.5]), "decode takes a 1-D sequence"),
        (lambda: CharTokenizer("ab").encode(["a"]), "encode takes one string"),
        (lambda: CharTokenizer("ab").encode_names("ab"), "not one string"),
        (lambda: CharTokenizer("ab").encode_names(["a", 3]), "name number 2 is 3, not a string"),
    ],
)
def test_tokenizer_misuse_is_a_one_line_error(make, message):
    with pytest.raises(InputError, match=message) as info:
        make()
    one_line(info.value)


# -- split -----------------------------------------------------------------------------------
def test_the_split_is_by_name_deterministic_disjoint_and_complete(names_dir):
    names = load_names(names_dir)
    train, val, test = split_names(names, seed=0)
    assert (train, val, test) == split_names(names, seed=0)
    backwards = split_names(names[::-1], seed=0)  # the same parts, whatever the file order
    assert [set(p) for p in backwards] == [set(train), set(val), set(test)]
    assert split_names(names, seed=1)[1] != val
    sets = set(train), set(val), set(test)
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert collections.Counter(train + val + test) == collections.Counter(names)
    distinct = len(set(names))
    assert [len(s) for s in sets] == [round(0.8 * distinct), round(0.1 * distinct),
                                      distinct - round(0.8 * distinct) - round(0.1 * distinct)]  # fmt: skip
    # each part keeps the file's order: it is a subsequence of the names
    remaining = iter(names)
    assert all(name in remaining for name in val)


def test_the_split_ignores_the_order_of_the_input_and_keeps_repeats_together():
    names = ["ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ida", "jo"] * 2 + ["ann"]
    parts = split_names(names, seed=5, fractions=(0.6, 0.2, 0.2))
    shuffled = split_names(names[::-1], seed=5, fractions=(0.6, 0.2, 0.2))
    assert [sorted(p) for p in parts] == [sorted(p) for p in shuffled]
    assert sorted(len(set(p)) for p in parts) == [2, 2, 6]
    ann = [i for i, p in enumerate(parts) if "ann" in p]
    assert len(ann) == 1 and parts[ann[0]].count("ann") == 3
    rng_parts = split_names(names, seed=np.random.default_rng(5), fractions=(0.6, 0.2, 0.2))
    assert rng_parts == parts  # a Generator seeded with 5 is the int seed 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fractions": (0.8, 0.1)}, "three non-negative numbers summing to 1"),
        ({"fractions": (0.8, 0.3, -0.1)}, "three non-negative numbers summing to 1"),
        ({"fractions": (0.5, 0.5, 0.5)}, "three non-negative numbers summing to 1"),
        ({"fractions": "abc"}, "fractions must be three numbers"),
        ({"seed": -1}, "seed must be a non-negative int or a Generator"),
        ({"seed": 1.5}, "seed must be a non-negative int or a Generator"),
    ],
)
def test_split_argument_errors(kwargs, message):
    with pytest.raises(InputError, match=message):
        split_names(["ann", "bob", "cy"] * 10, **kwargs)


def test_too_few_names_to_split_is_an_error_but_a_zero_fraction_is_fine():
    with pytest.raises(InputError, match="3 distinct name\\(s\\) are too few to split"):
        split_names(["ann", "bob", "cy"])
    train, val, test = split_names(["ann", "bob", "cy"], fractions=(1, 0, 0))
    assert sorted(train) == ["ann", "bob", "cy"] and val == test == []


# -- layouts ---------------------------------------------------------------------------------
TINY = ["emma", "al", "x"]


def test_windows_on_a_tiny_list():
    tok = CharTokenizer.fit(TINY)  # . a e l m x -> 0 1 2 3 4 5
    X, Y = windows(TINY, tok, block_size=3)
    assert X.dtype == Y.dtype == np.int64 and X.shape == (5 + 3 + 2, 3)
    assert [tok.decode(x) for x in X] == [
        "...", "..e", ".em", "emm", "mma",  # emma.
        "...", "..a", ".al",  # al.
        "...", "..x",  # x.
    ]  # fmt: skip
    assert tok.decode(Y) == "emma.al.x."
    X1, Y1 = windows(TINY, tok, block_size=1)
    assert X1.shape == (10, 1) and tok.decode(X1[:, 0]) == ".emma.al.x"


def test_encode_batch_on_a_tiny_list():
    tok = CharTokenizer.fit(TINY)
    batch = encode_batch(TINY, tok)
    assert batch.ids.shape == (3, 6) and batch.inputs.shape == batch.targets.shape == (3, 5)
    assert [tok.decode(row) for row in batch.ids] == [".emma.", ".al...", ".x...."]
    np.testing.assert_array_equal(batch.inputs, batch.ids[:, :-1])
    assert batch.targets.tolist() == [
        [2, 4, 4, 1, 0],
        [1, 3, 0, IGNORE_INDEX, IGNORE_INDEX],
        [5, 0, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX],
    ]
    assert batch.mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2, [True] * 2 + [False] * 3]
    assert batch.lengths.tolist() == [4, 2, 1]
    wide = encode_batch(["al"], tok, max_len=4)
    assert wide.ids.shape == (1, 6) and wide.mask.sum() == 3
    with pytest.raises(InputError, match=r"name 'emma' \(number 1\) has 4 characters, more "):
        encode_batch(TINY, tok, max_len=3)


def test_joined_stream_on_a_tiny_list():
    tok = CharTokenizer.fit(TINY)
    stream = joined_stream(TINY, tok)
    assert stream.dtype == np.int64 and stream.shape == (7 + 3 + 1,)
    assert tok.decode(stream) == ".emma.al.x." and tok.decode(stream).split(".")[1:-1] == TINY


@pytest.mark.parametrize("layout", [windows, encode_batch, joined_stream])
def test_layouts_refuse_no_names_and_empty_names(layout):
    tok = CharTokenizer("ab")
    extra = (2,) if layout is windows else ()
    with pytest.raises(InputError, match="needs at least one name"):
        layout([], tok, *extra)
    with pytest.raises(InputError, match="name number 2 is empty"):
        layout(["a", "", "b"], tok, *extra)
    with pytest.raises(InputError, match="needs a CharTokenizer"):
        layout(["a"], {"a": 1}, *extra)


@pytest.mark.parametrize("bad", [0, -2, 2.0, True, "3"])
def test_windows_needs_a_positive_integer_block_size(bad):
    with pytest.raises(InputError, match="block_size must be a positive integer"):
        windows(["ab"], CharTokenizer("ab"), bad)


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(st.text(alphabet="abcé😀", min_size=1, max_size=9), min_size=1, max_size=12),
    block_size=st.integers(1, 6),
)
def test_the_vectorised_layouts_match_plain_loops(names, block_size):
    tok = CharTokenizer.fit(names)
    X, Y = windows(names, tok, block_size)
    X_ref, Y_ref = makemore_windows(names, tok.stoi, block_size)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(Y, Y_ref)
    batch = encode_batch(names, tok)
    width = max(map(len, names)) + 2
    for row, name in zip(batch.ids.tolist(), names):
        expected = [0] + [tok.stoi[c] for c in name] + [0]
        assert row == expected + [0] * (width - len(expected))
    assert batch.mask.sum(axis=1).tolist() == [len(n) + 1 for n in names]
    assert (batch.targets[~batch.mask] == IGNORE_INDEX).all()
    assert tok.decode(joined_stream(names, tok)) == "." + ".".join(names) + "."
