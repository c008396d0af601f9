"""One registry: every class that a file, a checkpoint or the command line names by name.

A saved model says ``{"class": "Dense", "config": {...}}``; a checkpoint names its loss,
optimizer, schedule and callbacks the same way; ``--activation relu`` and ``loss="ce"`` are
short names for classes. Each family has one :class:`Registry`, and classes join it by
being defined: the base classes (:class:`~scratchnn.layers.Module`,
:class:`~scratchnn.losses.base.Loss`, :class:`~scratchnn.optimizers.Optimizer`,
:class:`~scratchnn.schedules.Schedule`, :class:`~scratchnn.training.Callback`) register
every subclass in ``__init_subclass__``, under its class name and the short names in its
``aliases`` class attribute. A class defined in a notebook is therefore loadable as soon as
its cell has run, and defining it again replaces the old definition.

>>> from scratchnn.registry import MODULES
>>> MODULES.get("Dense").__name__, MODULES.get("relu").__name__
('Dense', 'ReLU')
>>> MODULES.get("Dence")
Traceback (most recent call last):
  ...
scratchnn.errors.InputError: unknown layer or model 'Dence'; did you mean 'Dense'? (define or import the class first)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from .errors import InputError

__all__ = ["CALLBACKS", "LOSSES", "MODULES", "OPTIMIZERS", "SCHEDULES", "Registry"]


class Registry:
    """Entries of one family by name (exact name, or a case-insensitive alias).

    The entries are classes (layers, losses, ...), registered under their ``__name__``; the
    command line's model recipes (:data:`scratchnn.experiments.MODELS`) are registered
    objects with an explicit ``name``. A registry reads like a dict: ``registry[name]``,
    ``name in registry``, iteration over the public names, ``values()``.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, Any] = {}
        self._aliases: dict[str, str] = {}

    def register(self, entry: Any, aliases: tuple[str, ...] = (), name: str | None = None) -> Any:
        """Add ``entry`` under ``name`` (a class's ``__name__`` by default) and each alias;
        returns ``entry``, so it works as a class decorator too."""
        key = entry.__name__ if name is None else name
        self._classes[key] = entry
        for alias in aliases:
            self._aliases[alias.lower()] = key
        return entry

    def pop(self, name: str) -> Any:
        """Remove and return the entry registered as ``name`` (and its aliases)."""
        entry = self._classes.pop(name)
        self._aliases = {a: k for a, k in self._aliases.items() if k != name}
        return entry

    def values(self) -> list[Any]:
        """The public entries, in the order of their sorted names."""
        return [self._classes[name] for name in self]

    def __len__(self) -> int:
        return sum(1 for name in self._classes if not name.startswith("_"))

    def get(self, name: str) -> type:
        """The class registered as ``name``; one-line :class:`InputError` otherwise."""
        if not isinstance(name, str):
            raise InputError(f"a {self.kind} name must be a string, got {name!r}")
        if name in self._classes:
            return self._classes[name]
        key = self._aliases.get(name.lower().replace("-", "_"))
        if key is not None:
            return self._classes[key]
        close = difflib.get_close_matches(name, [*self._classes, *self._aliases], n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(self)}"
        raise InputError(f"unknown {self.kind} {name!r}; {hint} (define or import the class first)")

    def create(self, name: str, **config: Any) -> Any:
        """An instance of the class registered as ``name``, built from ``config``."""
        return self.get(name)(**config)

    def aliases(self) -> list[str]:
        """The short names (``"relu"``, ``"ce"``, ``"adam"``), sorted."""
        return sorted(self._aliases)

    def __getitem__(self, name: str) -> type:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self._classes or name.lower().replace("-", "_") in self._aliases
        )

    def __iter__(self) -> Iterator[str]:
        """The public class names (private helpers such as ``_Pool2D`` are left out), sorted."""
        return iter(sorted(name for name in self._classes if not name.startswith("_")))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._classes)} classes)"


#: Layers, blocks and models (every :class:`~scratchnn.layers.Module` subclass).
MODULES = Registry("layer or model")
LOSSES = Registry("loss")
OPTIMIZERS = Registry("optimizer")
SCHEDULES = Registry("schedule")
CALLBACKS = Registry("callback")
