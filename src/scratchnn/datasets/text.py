"""Text for the character-level language models: the names data, a tokenizer, training pairs.

The names data is ``names.txt``, 32,033 lowercase first names, one a line, from Karpathy's
makemore (MIT licence). :func:`find_names` looks for it where :func:`~scratchnn.datasets.find_mnist`
looks for MNIST:

1. the ``data_dir`` argument (``--data-dir``): the file itself, or a directory holding
   ``names.txt`` (or ``names/names.txt``),
2. ``$SCRATCHNN_DATA/names``, then ``$SCRATCHNN_DATA``,
3. the per-user cache, ``$XDG_CACHE_HOME/scratchnn/names`` (``~/.cache/scratchnn/names``).

Tokens follow makemore: a boundary token ``.`` with id 0 starts and ends every name, and the
characters seen get ids 1, 2, ... in sorted order (``a`` = 1 ... ``z`` = 26 for the names);
the :class:`~scratchnn.datasets.tokenizer.CharTokenizer` has a module of its own.
Three layouts of the same names serve the three kinds of model:

======================= ================================= ===================================
function                shapes                            for
======================= ================================= ===================================
:func:`windows`         ``X (M, block_size)``, ``Y (M,)`` a context-window MLP (Bengio 2003):
                                                          each next character and the
                                                          ``block_size`` before it
:func:`encode_batch`    ``ids (N, T)``, ``T = L + 2``     RNN, LSTM, GPT: ``"." + name + "."``
                                                          padded, with inputs, targets, mask
:func:`joined_stream`   ``(sum(len) + N + 1,)``           GPT on random windows of a stream
======================= ================================= ===================================

Every id array is int64. ``M`` is the number of characters plus one end token per name,
``N`` the number of names and ``L`` the longest name's length.

>>> tok = CharTokenizer.fit(["emma", "ava"])
>>> tok.itos, tok.encode("ava")
(['.', 'a', 'e', 'm', 'v'], [1, 4, 1])
>>> X, Y = windows(["ava"], tok, block_size=3)
>>> X.tolist(), Y.tolist()
([[0, 0, 0], [0, 0, 1], [0, 1, 4], [1, 4, 1]], [1, 4, 1, 0])
>>> joined_stream(["emma", "ava"], tok).tolist()
[0, 2, 3, 3, 1, 0, 1, 4, 1, 0]
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ._files import cache_dir, find_data_dir, open_regular, read_capped, short, size_text
from .tokenizer import CharTokenizer, as_names

__all__ = [
    "IGNORE_INDEX",
    "MAX_LINE_CHARS",
    "MAX_TEXT_BYTES",
    "NAMES_FILE",
    "SequenceBatch",
    "encode_batch",
    "find_names",
    "joined_stream",
    "load_names",
    "read_lines",
    "split_names",
    "windows",
]

#: The largest text file :func:`read_lines` reads: 64 MiB (the names file is 223 KiB).
MAX_TEXT_BYTES = 64 << 20
#: The longest line :func:`read_lines` accepts, in characters.
MAX_LINE_CHARS = 1024
#: The file :func:`find_names` looks for.
NAMES_FILE = "names.txt"
#: The target id of positions past a name's end in :func:`encode_batch` (makemore's, and what
#: ``torch.nn.functional.cross_entropy(..., ignore_index=-1)`` skips).
IGNORE_INDEX = -1


# -- reading -------------------------------------------------------------------------------
def read_lines(
    path: str | os.PathLike[str],
    max_bytes: int = MAX_TEXT_BYTES,
    max_line_chars: int = MAX_LINE_CHARS,
) -> list[str]:
    """The non-blank lines of a UTF-8 text file with one item per line, stripped.

    Parameters
    ----------
    path : path-like
        A regular file; a leading byte-order mark is ignored, ``\\r\\n`` line ends are fine.
    max_bytes : int
        The largest file accepted (:data:`MAX_TEXT_BYTES`, 64 MiB); a larger one is refused
        before it is read.
    max_line_chars : int
        The longest line accepted (:data:`MAX_LINE_CHARS`, 1024 characters).

    Returns
    -------
    list of str
        Each line without surrounding whitespace; blank lines are skipped.

    Raises
    ------
    InputError
        One line naming the file (and the line, where there is one) for: a missing file, a
        directory, a FIFO or device (refused before opening, so nothing blocks), an empty
        file or one of blank lines only, a file over ``max_bytes``, a NUL byte (binary
        content), bytes that are not UTF-8, a line over ``max_line_chars``.
    """
    path = Path(path)
    fh, info = open_regular(path, "a text file")
    with fh:
        if info.st_size > max_bytes:
            raise InputError(
                f"{path}: is {info.st_size:,} bytes, more than {size_text(max_bytes)}, the "
                "limit for a text file (MAX_TEXT_BYTES); pass a smaller file"
            )
        raw, too_long = read_capped(fh, max_bytes)
    if too_long:  # it grew while being read
        raise InputError(
            f"{path}: holds more than {size_text(max_bytes)}, the limit for a text file "
            "(MAX_TEXT_BYTES); pass a smaller file"
        )
    if not raw:
        raise InputError(f"{path}: the file is empty; expected one item per line")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise InputError(
            f"{path}: binary content (a NUL byte on line {line}); pass a UTF-8 text file with "
            "one item per line"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save the "
            "file as UTF-8"
        ) from None
    lines = text.removeprefix("\ufeff").split("\n")
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    if lengths.max() > max_line_chars:
        number = int(np.flatnonzero(lengths > max_line_chars)[0])
        raise InputError(
            f"{path}: line {number + 1} is {lengths[number]:,} characters long, more than "
            f"{max_line_chars}; pass a file with one short item per line"
        )
    items = [line.strip() for line in lines]
    items = [item for item in items if item]
    if not items:
        raise InputError(f"{path}: holds only blank lines; expected one item per line")
    return items


def find_names(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The path of ``names.txt`` (see the module docstring for where it is looked for)."""
    if data_dir is not None:
        given = Path(data_dir).expanduser()
        if given.exists() and not given.is_dir():  # the file itself; read_lines checks its kind
            return given

    def holds(directory: Path) -> bool:
        return (directory / NAMES_FILE).is_file()

    def missing(directory: Path) -> str:
        return (
            f"{directory}: no {NAMES_FILE} here or in {directory / 'names'}; point --data-dir "
            f"at the directory holding {NAMES_FILE} (or at the file)"
        )

    fix = f", or put {NAMES_FILE} in {cache_dir('names')}"
    return find_data_dir(data_dir, "names", holds, missing, fix) / NAMES_FILE


def load_names(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The names, one string each, in file order (:func:`read_lines` of :func:`find_names`)."""
    return read_lines(find_names(data_dir))


def _non_empty(names: Sequence[str], what: str, tokenizer: object) -> None:
    if not isinstance(tokenizer, CharTokenizer):
        raise InputError(
            f"{what} needs a CharTokenizer (CharTokenizer.fit(names)), got {type(tokenizer).__name__}"
        )
    if not names:
        raise InputError(f"{what} needs at least one name, got none")
    if not all(names):
        raise InputError(
            f"name number {list(names).index('') + 1} is empty; an empty name has nothing to "
            "learn, drop it"
        )


# -- layouts for the models ----------------------------------------------------------------
def windows(
    names: Sequence[str], tokenizer: CharTokenizer, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Next-character training pairs for a context-window model (Bengio et al. 2003).

    For each name and each position, the ``block_size`` previous characters (padded on the
    left with the boundary ``.``, id 0) and the character that follows; the last pair of a
    name predicts the closing ``.``.

    Returns
    -------
    X : ndarray of int64, shape (M, block_size)
        The contexts; ``M = sum(len(name) + 1)``.
    Y : ndarray of int64, shape (M,)
        The next character of each context.

    Examples
    --------
    >>> tok = CharTokenizer.fit(["emma"])
    >>> X, Y = windows(["emma"], tok, block_size=2)
    >>> [tok.decode(x) + " -> " + tok.decode([y]) for x, y in zip(X, Y)]
    ['.. -> e', '.e -> m', 'em -> m', 'mm -> a', 'ma -> .']
    """
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)):
        raise InputError(f"block_size must be a positive integer, got {short(block_size)}")
    if block_size < 1:
        raise InputError(f"block_size must be a positive integer, got {block_size}")
    names = as_names(names)
    _non_empty(names, "windows", tokenizer)
    ids, lengths, _ = tokenizer._flat(names)
    # each name becomes block_size zeros + its ids + one zero, all end to end in `sequence`
    segment = lengths + block_size + 1
    start = np.cumsum(segment) - segment
    sequence = np.zeros(int(segment.sum()), dtype=np.int64)
    first_char = np.cumsum(lengths) - lengths
    sequence[np.arange(len(ids)) + np.repeat(start + block_size - first_char, lengths)] = ids
    # targets: every position from a name's first character to its closing zero
    targets = lengths + 1
    first_target = np.cumsum(targets) - targets
    where = np.arange(int(targets.sum())) + np.repeat(start + block_size - first_target, targets)
    contexts = np.lib.stride_tricks.sliding_window_view(sequence, block_size)
    return contexts[where - block_size].copy(), sequence[where]


@dataclass
class SequenceBatch:
    """Names padded to one length for a recurrent or transformer model (:func:`encode_batch`).

    Attributes
    ----------
    ids : ndarray of int64, shape (N, T)
        ``"." + name + "."`` as ids, padded on the right with the boundary id 0;
        ``T = L + 2`` for the longest name length ``L`` (or the ``max_len`` asked for).
    inputs : ndarray of int64, shape (N, T - 1)
        ``ids[:, :-1]`` (a contiguous copy): what the model reads at each step.
    targets : ndarray of int64, shape (N, T - 1)
        ``ids[:, 1:]``, with :data:`IGNORE_INDEX` (−1) at the steps past a name's closing
        ``.``: a loss must skip them (``mask`` says which).
    mask : ndarray of bool, shape (N, T - 1)
        True at the steps whose target is real: ``len(name) + 1`` of them per row (each
        character, then the closing ``.``).
    lengths : ndarray of int64, shape (N,)
        Each name's length in characters.
    """

    ids: np.ndarray
    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    lengths: np.ndarray


def encode_batch(
    names: Sequence[str], tokenizer: CharTokenizer, max_len: int | None = None
) -> SequenceBatch:
    """Names as one padded array for an RNN, LSTM or GPT; see :class:`SequenceBatch`.

    ``max_len`` fixes the width (``T = max_len + 2``, so that batches of other names have the
    same shape, e.g. a GPT's ``block_size = max_len + 1``); a longer name is an error.

    Examples
    --------
    >>> tok = CharTokenizer.fit(["ab", "c"])
    >>> batch = encode_batch(["ab", "c"], tok)
    >>> batch.ids.tolist()
    [[0, 1, 2, 0], [0, 3, 0, 0]]
    >>> batch.targets.tolist(), batch.mask.sum(axis=1).tolist()
    ([[1, 2, 0], [3, 0, -1]], [3, 2])
    """
    names = as_names(names)
    _non_empty(names, "encode_batch", tokenizer)
    ids, lengths, _ = tokenizer._flat(names)
    longest = int(lengths.max())
    if max_len is None:
        max_len = longest
    elif isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 1:
        raise InputError(f"max_len must be a positive integer, got {short(max_len)}")
    elif longest > max_len:
        index = int(np.flatnonzero(lengths > max_len)[0])
        raise InputError(
            f"name {short(names[index])} (number {index + 1}) has {lengths[index]} characters, "
            f"more than max_len={max_len}; raise max_len or drop the longer names"
        )
    n, width = len(names), int(max_len) + 2
    batch = np.zeros((n, width), dtype=np.int64)
    rows = np.repeat(np.arange(n), lengths)
    columns = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1
    batch[rows, columns] = ids
    mask = np.arange(width - 1)[None, :] <= lengths[:, None]
    targets = np.where(mask, batch[:, 1:], IGNORE_INDEX)
    return SequenceBatch(batch, np.ascontiguousarray(batch[:, :-1]), targets, mask, lengths)


def joined_stream(names: Sequence[str], tokenizer: CharTokenizer) -> np.ndarray:
    """The names as one 1-D id array, each one preceded and followed by the boundary (0).

    ``".emma.ava."`` for ``["emma", "ava"]``: shape ``(sum(len) + N + 1,)``. A GPT trains on
    random windows of it (of 16 characters, say), which then span names and boundaries.
    """
    names = as_names(names)
    _non_empty(names, "joined_stream", tokenizer)
    ids, lengths, _ = tokenizer._flat(names)
    stream = np.zeros(len(ids) + len(names) + 1, dtype=np.int64)
    # name k starts after k + 1 boundaries
    stream[np.arange(len(ids)) + np.repeat(np.arange(1, len(names) + 1), lengths)] = ids
    return stream


# -- split ---------------------------------------------------------------------------------
def split_names(
    names: Sequence[str],
    seed: int | np.random.Generator = 0,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
) -> tuple[list[str], list[str], list[str]]:
    """A seeded split into ``(train, val, test)`` by name, not by character.

    The distinct names, sorted, are shuffled by the seed's generator and cut in the given
    fractions, so that the same name never lands in two parts (a repeated name goes, every
    time, to the same part) and the split depends only on the set of names and the seed, not
    on the order of the file. Each part keeps the input order; together they hold every
    entry of ``names`` exactly once.

    Parameters
    ----------
    names : list of str
    seed : int or numpy.random.Generator
        The same int gives the same split (the default, 0, included).
    fractions : three numbers
        Non-negative, summing to 1; the parts' shares of the distinct names (rounded).

    Examples
    --------
    >>> train, val, test = split_names([f"n{i}" for i in range(10)], seed=0)
    >>> len(train), len(val), len(test)
    (8, 1, 1)
    """
    names = as_names(names)
    if isinstance(seed, bool) or not (
        isinstance(seed, np.random.Generator) or (isinstance(seed, (int, np.integer)) and seed >= 0)
    ):
        raise InputError(f"seed must be a non-negative int or a Generator, got {short(seed)}")
    try:
        shares = [float(f) for f in fractions]
    except (TypeError, ValueError):
        raise InputError(f"fractions must be three numbers, got {short(fractions)}") from None
    if (
        len(shares) != 3
        or not all(math.isfinite(f) and f >= 0 for f in shares)
        or abs(sum(shares) - 1) > 1e-9
    ):
        raise InputError(
            f"fractions must be three non-negative numbers summing to 1, got {short(fractions)}"
        )
    distinct = sorted(set(names))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(int(seed))
    order = rng.permutation(len(distinct))
    n_train = round(shares[0] * len(distinct))
    n_val = min(round(shares[1] * len(distinct)), len(distinct) - n_train)
    counts = (n_train, n_val, len(distinct) - n_train - n_val)
    if any(share > 0 and count == 0 for share, count in zip(shares, counts)):
        raise InputError(
            f"{len(distinct)} distinct name(s) are too few to split in fractions "
            f"{tuple(shares)}: a part would be empty; pass more names or other fractions"
        )
    part = np.empty(len(distinct), dtype=np.int64)
    part[order] = np.repeat([0, 1, 2], counts)
    where = dict(zip(distinct, part.tolist()))
    splits: tuple[list[str], list[str], list[str]] = ([], [], [])
    for name in names:
        splits[where[name]].append(name)
    return splits
