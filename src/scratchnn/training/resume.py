"""``resume``: continue a saved run in one call, with the settings it was started with."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..layers.base import Module
from .callbacks.base import Callback
from .checkpoint import load_checkpoint
from .fit import fit
from .history import History

__all__ = ["resume"]


def resume(
    directory: str | os.PathLike[str],
    X: Any,
    y: Any,
    *,
    epochs: int | None = None,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: int = 1,
    checkpoint_every: int | None = None,
) -> tuple[Module, History]:
    """Continue the run saved in ``directory`` until ``epochs`` epochs in total.

    The model, optimizer, loss, schedule and every fit setting come from the checkpoint;
    pass the same data (and validation data) as the run was started with. ``epochs``
    defaults to the total the run was started with. Returns ``(model, history)``; the
    checkpoint keeps being updated in ``directory``.

    Raises
    ------
    ModelFileError
        No readable checkpoint in ``directory``.
    InputError
        Different data, or ``epochs`` smaller than the epochs already done.
    """
    checkpoint = load_checkpoint(directory)
    settings = checkpoint.settings
    epochs = settings.get("epochs") if epochs is None else epochs
    history = fit(
        checkpoint.model,
        X,
        y,
        loss=checkpoint.loss(),
        optimizer=checkpoint.optimizer(),
        lr_schedule=checkpoint.lr_schedule(),
        epochs=epochs,
        batch_size=settings["batch_size"],
        validation_data=validation_data,
        validation_split=settings["validation_split"],
        shuffle=settings["shuffle"],
        clip_norm=settings["clip_norm"],
        callbacks=callbacks,
        verbose=verbose,
        checkpoint=checkpoint.directory,
        checkpoint_every=settings.get("checkpoint_every", 1)
        if checkpoint_every is None
        else checkpoint_every,
        resume=checkpoint,
    )
    return checkpoint.model, history
