"""The :class:`History` of a training run: one row of metrics per epoch."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..io.atomic import write_csv

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["History"]


class History:
    """Per-epoch record of a training run.

    Columns: ``epoch`` (1-based), ``loss``, ``accuracy`` (training, averaged over the epoch's
    batches as they were seen), ``val_loss``, ``val_accuracy`` (``nan`` without validation
    data, accuracy ``nan`` for regression), ``lr`` and ``seconds`` (wall time of the epoch's
    training steps). A loss with named parts (:meth:`Loss.terms`, e.g. a VAE's ``recon`` and
    ``kl``) adds one column per part, and ``val_<part>`` with validation data.

    >>> h = History()
    >>> h.append(epoch=1, loss=0.5, accuracy=0.8, lr=0.001, seconds=1.0)
    >>> h["loss"]
    [0.5]
    >>> list(h.to_dataframe().columns)
    ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'seconds']
    """

    COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")

    def __init__(self, records: Iterable[dict[str, float]] = ()) -> None:
        self.records: list[dict[str, float]] = [dict(r) for r in records]

    def append(self, **record: float) -> None:
        """Add one epoch's values; missing columns are ``nan``."""
        row = {key: float("nan") for key in self.COLUMNS}
        row.update({k: (int(v) if k == "epoch" else float(v)) for k, v in record.items()})
        self.records.append(row)

    @property
    def columns(self) -> list[str]:
        """The standard :attr:`COLUMNS`, then any extra ones in the order they first appear."""
        columns = list(self.COLUMNS)
        for record in self.records:
            columns += [key for key in record if key not in columns]
        return columns

    def __getitem__(self, column: str) -> list[float]:
        if self.records and column not in self.records[0]:
            raise KeyError(f"History has no column {column!r}; columns are {self.columns}")
        return [r[column] for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"History({len(self)} epochs)"

    @property
    def history(self) -> dict[str, list[float]]:
        """Keras-style ``{column: [value per epoch]}``."""
        return {column: self[column] for column in self.columns} if self.records else {}

    def to_dataframe(self) -> pd.DataFrame:
        """One row per epoch, one column per metric."""
        return pd.DataFrame(self.records, columns=self.columns)

    def plot(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Figure:
        """The loss and accuracy curves of this run: :func:`scratchnn.plotting.curves.training_curves`.

        Returns the figure (shown as a picture when it is the last value of a notebook
        cell); ``path`` also writes it as PNG. Other keywords (``results``, ``chance``,
        ``title``, ``test_accuracy``, ``test_loss``, ``best``) go to ``training_curves``.
        """
        # Imported here, not at the top: plotting sits above training in the layering (see
        # the ignore_imports line of pyproject.toml), and matplotlib is loaded only when used.
        from ..plotting.curves import training_curves

        return training_curves(self, path=path, **kwargs)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dataframe` as CSV without the index, atomically."""
        write_csv(path, self.to_dataframe())
