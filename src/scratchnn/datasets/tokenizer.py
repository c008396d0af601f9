"""A character-level tokenizer with a boundary token at id 0 (makemore's convention).

``CharTokenizer.fit(names)`` gives the boundary ``.`` id 0 and every character seen an id
1, 2, ... in sorted order; :meth:`~CharTokenizer.get_config` and
:meth:`~CharTokenizer.from_config` carry it through JSON (a model file's metadata), so that
a model loaded later encodes and samples with the same ids. Encoding converts a whole list
of names at once (one join, one ``searchsorted``), never a Python loop per character.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ._files import short

__all__ = ["CharTokenizer"]


def _code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as uint32: one C-level conversion, no loop per character."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


class CharTokenizer:
    """Characters to ids and back, with a boundary token at id 0 (makemore's convention).

    Parameters
    ----------
    chars : str or iterable of str
        The vocabulary without the boundary, in id order: ``chars[i]`` gets id ``i + 1``.
        Each is one character, none repeated, none the boundary.
    boundary : str
        The one character that starts and ends a name, id 0 (``"."``).

    Attributes
    ----------
    itos : list of str
        ``itos[i]`` is the character of id ``i``; ``itos[0]`` is the boundary.
    stoi : dict of str to int
        The inverse of ``itos``.
    vocab_size : int
        ``len(itos)``: the characters plus the boundary (27 for the names).

    Examples
    --------
    >>> tok = CharTokenizer("abc")
    >>> tok.vocab_size, tok.stoi["."], tok.decode(tok.encode("cab"))
    (4, 0, 'cab')
    >>> CharTokenizer.from_config(tok.get_config()).itos == tok.itos
    True
    """

    def __init__(self, chars: str | Iterable[str], boundary: str = ".") -> None:
        if not isinstance(boundary, str) or len(boundary) != 1:
            raise InputError(f"boundary must be one character, got {short(boundary)}")
        if isinstance(chars, str):
            chars = list(chars)
        else:
            try:
                chars = list(chars)
            except TypeError:
                raise InputError(
                    f"chars must be a string or a list of characters, got {short(chars)}"
                ) from None
        for char in chars:
            if not isinstance(char, str) or len(char) != 1:
                raise InputError(f"every vocabulary entry must be one character, got {short(char)}")
        if boundary in chars:
            raise InputError(
                f"the boundary {boundary!r} cannot also be a character of the vocabulary; "
                "remove it from chars"
            )
        repeated = sorted({c for c in chars if chars.count(c) > 1})
        if repeated:
            raise InputError(f"repeated characters in the vocabulary: {short(''.join(repeated))}")
        if not chars:
            raise InputError("the vocabulary is empty; pass at least one character")
        self.boundary = boundary
        self.itos: list[str] = [boundary, *chars]
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos)}
        # sorted code points and their ids: searchsorted encodes a whole text in one call
        codes = _code_points("".join(self.itos))
        order = np.argsort(codes)
        self._codes, self._ids = codes[order], order.astype(np.int64)
        self._chars = np.array(self.itos)

    @classmethod
    def fit(cls, names: Iterable[str], boundary: str = ".") -> CharTokenizer:
        """The tokenizer of every character in ``names``, in sorted order after the boundary."""
        names = as_names(names)
        chars = sorted(set("".join(names)))
        if boundary in chars:
            first = next(n for n in names if boundary in n)
            raise InputError(
                f"name {short(first)} contains the boundary character {boundary!r}, which "
                "marks where names start and end; remove it or choose another boundary"
            )
        return cls(chars, boundary)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharTokenizer({''.join(self.itos[1:])!r}, boundary={self.boundary!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self.itos == other.itos

    __hash__ = None  # type: ignore[assignment]  # equal by vocabulary; not meant as a dict key

    # -- configuration (JSON) --
    def get_config(self) -> dict[str, Any]:
        """Plain JSON: ``{"type": "CharTokenizer", "boundary": ".", "chars": "ab..."}``.

        Saved in a model file's metadata, it rebuilds the same ids with :meth:`from_config`.
        """
        return {"type": "CharTokenizer", "boundary": self.boundary, "chars": "".join(self.itos[1:])}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CharTokenizer:
        """The tokenizer :meth:`get_config` described; a one-line error for anything else."""
        if not isinstance(config, Mapping):
            raise InputError(f"a tokenizer config must be a dict, got {type(config).__name__}")
        unknown = sorted(set(config) - {"type", "boundary", "chars"})
        if unknown or config.get("type", "CharTokenizer") != "CharTokenizer":
            raise InputError(
                f"not a CharTokenizer config (keys {sorted(map(str, config))}, type "
                f"{short(config.get('type'))}); expected type, boundary and chars"
            )
        if not isinstance(config.get("chars"), str):
            raise InputError(
                f"a CharTokenizer config needs chars as a string, got {short(config.get('chars'))}"
            )
        return cls(config["chars"], config.get("boundary", "."))

    # -- encoding --
    def _flat(self, names: Sequence[str], skip_unknown: bool = False) -> tuple[np.ndarray, ...]:
        """``(ids, lengths, kept)``: every kept name's ids end to end, their lengths, their indices.

        One join, one conversion to code points and one ``searchsorted`` for all the names.
        """
        names = as_names(names)
        lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
        codes = _code_points("".join(names))
        where = np.minimum(np.searchsorted(self._codes, codes), len(self._codes) - 1)
        ids = self._ids[where]
        bad = (self._codes[where] != codes) | (ids == 0)  # unknown, or the boundary itself
        kept = np.arange(len(names))
        if bad.any():
            ends = np.cumsum(lengths)
            per_name = np.diff(np.concatenate(([0], np.cumsum(bad)))[np.concatenate(([0], ends))])
            if not skip_unknown:
                self._refuse(names, ends, int(np.flatnonzero(bad)[0]))
            keep_char = np.repeat(per_name == 0, lengths)
            ids, lengths, kept = ids[keep_char], lengths[per_name == 0], kept[per_name == 0]
        return ids, lengths, kept

    def _refuse(self, names: Sequence[str], ends: np.ndarray, position: int) -> None:
        index = int(np.searchsorted(ends, position, side="right"))
        name = names[index]
        char = name[position - (int(ends[index - 1]) if index else 0)]
        if char == self.boundary:
            raise InputError(
                f"name {short(name)} (number {index + 1}) contains the boundary character "
                f"{char!r}, which marks where names start and end; remove it, or pass "
                "skip_unknown=True to skip such names"
            )
        raise InputError(
            f"unknown character {char!r} in name {short(name)} (number {index + 1}); the "
            f"vocabulary is {short(''.join(self.itos[1:]))}: pass skip_unknown=True to skip "
            "such names, or fit the tokenizer on data that has it"
        )

    def encode(self, name: str) -> list[int]:
        """The ids of ``name``'s characters (no boundaries added): ``"ab"`` -> ``[1, 2]``."""
        if not isinstance(name, str):
            raise InputError(f"encode takes one string, got {type(name).__name__}")
        return self._flat([name])[0].tolist()

    def encode_names(
        self, names: Iterable[str], skip_unknown: bool = False
    ) -> tuple[list[list[int]], int]:
        """``(ids of each name, number skipped)``.

        A name with a character outside the vocabulary (or the boundary character) is an
        error naming both, unless ``skip_unknown``: then it is left out and counted, as for an
        evaluation file that the training data's vocabulary does not cover.
        """
        names = as_names(names)
        ids, lengths, kept = self._flat(names, skip_unknown)
        pieces = np.split(ids, np.cumsum(lengths)[:-1]) if len(lengths) else []
        return [piece.tolist() for piece in pieces], len(names) - len(kept)

    def known(self, names: Iterable[str]) -> tuple[list[str], int]:
        """``(the names this tokenizer can encode, the number left out)``, in order."""
        names = as_names(names)
        _, _, kept = self._flat(names, skip_unknown=True)
        return [names[i] for i in kept.tolist()], len(names) - len(kept)

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """The characters of ``ids``; the boundary (id 0) decodes to itself (``"."``).

        So ``decode(stream).split(".")`` splits a :func:`joined_stream` back into names.
        """
        array = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids)
        if array.size == 0:
            return ""
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise InputError(
                f"decode takes a 1-D sequence of integer ids, got shape {array.shape} and "
                f"dtype {array.dtype}"
            )
        outside = (array < 0) | (array >= self.vocab_size)
        if outside.any():
            raise InputError(
                f"id {int(array[outside][0])} is outside the vocabulary (0 .. "
                f"{self.vocab_size - 1}); decode ids made by this tokenizer"
            )
        return "".join(self._chars[array].tolist())


def as_names(names: Iterable[str]) -> list[str]:
    if isinstance(names, str):
        raise InputError("pass a list of names, not one string")
    try:
        names = list(names)
    except TypeError:
        raise InputError(f"pass a list of names, got {type(names).__name__}") from None
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise InputError(f"name number {i + 1} is {short(name)}, not a string")
    return names
