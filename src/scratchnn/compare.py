"""Train the same network in scratchnn and in PyTorch, side by side (``scratchnn compare``).

Both start from the *same initial weights* (scratchnn's, copied into ``torch.nn`` modules;
``Dense.W`` is ``(out, in)`` like ``nn.Linear.weight``, so nothing is transposed), see the
*same batches in the same order* (the permutations of one seeded generator, drawn exactly
as :func:`scratchnn.training.batches` draws them) and use the *same optimizer* with the same
hyper-parameters (``torch.optim.Adam`` for :class:`~scratchnn.optimizers.Adam`, ...). In
float64 the two loss curves then coincide to rounding error; in float32 they drift apart
slowly, as any two float32 implementations do.

PyTorch is optional (``pip install "scratchnn[torch]"``) and imported only when a comparison
runs. The twin is :func:`scratchnn.interop.to_torch`'s (``TORCH_LAYERS`` says how each
layer class is translated, and is re-exported here with ``import_torch``); ``to_torch``
here also refuses active Dropout, whose masks the two libraries cannot share.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from . import experiments
from . import losses as losses_mod
from .errors import InputError
from .interop.pytorch import TORCH_LAYERS, import_torch
from .interop.pytorch import to_torch as interop_to_torch
from .io.atomic import write_csv, write_json
from .layers import Dropout
from .loop import evaluate
from .model import Sequential
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .training import fit
from .training.callbacks.progress import ProgressBar

__all__ = [
    "TORCH_LAYERS",
    "compare_with_torch",
    "import_torch",
    "median_seconds",
    "timed_epochs",
    "to_torch",
    "torch_optimizer",
]


def to_torch(model: Sequential, torch: Any | None = None) -> Any:
    """:func:`scratchnn.interop.to_torch`, refusing active Dropout: its masks cannot match."""
    for i, layer in enumerate(model):
        if isinstance(layer, Dropout) and layer.p > 0:
            raise InputError(
                f"layer {i}: compare cannot match dropout masks between scratchnn and "
                "PyTorch; use --dropout 0"
            )
    return interop_to_torch(model, torch)


def torch_optimizer(optimizer: Optimizer, parameters: Any, torch: Any) -> Any:
    """The ``torch.optim`` optimizer with the same update rule and hyper-parameters."""
    h = optimizer.hyperparameters()
    if isinstance(optimizer, Adam):  # AdamW too: same hyper-parameters, decoupled decay
        cls = torch.optim.AdamW if isinstance(optimizer, AdamW) else torch.optim.Adam
        return cls(
            parameters,
            lr=h["lr"],
            betas=(h["beta1"], h["beta2"]),
            eps=h["eps"],
            weight_decay=h["weight_decay"],
        )
    if isinstance(optimizer, SGD):
        return torch.optim.SGD(
            parameters,
            lr=h["lr"],
            momentum=h["momentum"],
            nesterov=h["nesterov"],
            weight_decay=h["weight_decay"],
        )
    if isinstance(optimizer, RMSprop):
        return torch.optim.RMSprop(
            parameters,
            lr=h["lr"],
            alpha=h["alpha"],
            eps=h["eps"],
            momentum=h["momentum"],
            centered=h["centered"],
            weight_decay=h["weight_decay"],
        )
    raise InputError(f"no PyTorch twin for the optimizer {type(optimizer).__name__}")


def timed_epochs(epochs: int) -> list[int]:
    """The epochs (1-based) whose times are compared: all but the first, PyTorch's warm-up.

    A one-epoch run has only its warm-up epoch to time.

    >>> timed_epochs(5), timed_epochs(1)
    ([2, 3, 4, 5], [1])
    """
    return list(range(2, epochs + 1)) if epochs > 1 else [1]


def describe_epochs(timed: list[int], epochs: int) -> str:
    """``"epochs 2-10"``, ``"epoch 2"`` or ``"epoch 1 (with warm-up)"``, for the summary."""
    if timed == [1]:
        return "epoch 1 (with warm-up)"
    if len(timed) == 1:
        return f"epoch {timed[0]}"
    return f"epochs {timed[0]}-{timed[-1]}"


def median_seconds(seconds: Any, timed: list[int]) -> float:
    """The median of the per-epoch ``seconds`` over the ``timed`` epochs (1-based)."""
    values = np.asarray(seconds, dtype=float)
    return float(np.median(values[np.asarray(timed) - 1]))


def _torch_loss(name: str, torch: Any) -> tuple[Callable[[Any, Any], Any], bool]:
    """``(loss(outputs, targets), is_classification)`` as scratchnn's loss of that name."""
    kind = type(losses_mod.get(name)).__name__
    F = torch.nn.functional
    if kind == "SoftmaxCrossEntropy":
        return F.cross_entropy, True
    if kind == "BCEWithLogits":
        return (lambda out, t: F.binary_cross_entropy_with_logits(out, t.view_as(out))), True
    if kind == "MSE":
        return (lambda out, t: F.mse_loss(out, t.view_as(out))), False
    raise InputError(f"compare supports the losses ce, bce and mse, not {name!r}")


def _torch_targets(y: np.ndarray, loss: str, torch: Any, dtype: Any) -> Any:
    kind = type(losses_mod.get(loss)).__name__
    if kind == "SoftmaxCrossEntropy":
        return torch.from_numpy(np.asarray(y, dtype=np.int64))
    return torch.from_numpy(np.asarray(y, dtype=dtype).reshape(len(y), -1))


def _correct(out: Any, t: Any, classification: bool) -> float:
    if not classification:
        return 0.0
    if out.shape[1] == 1:
        pred = (out[:, 0] > 0).long()
        return float((pred == t.view(-1).long()).sum())
    return float((out.argmax(1) == t).sum())


def _torch_evaluate(net, X, T, loss_fn, classification, batch_size, torch) -> tuple[float, float]:
    total = correct = 0.0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            out = net(X[start : start + batch_size])
            t = T[start : start + batch_size]
            total += float(loss_fn(out, t)) * len(out)
            correct += _correct(out, t, classification)
    n = len(X)
    return total / n, (correct / n if classification else float("nan"))


def train_torch(
    net: Any,
    optimizer: Any,
    loss: str,
    X_train: np.ndarray,
    y_train: np.ndarray,
    validation: tuple[np.ndarray, np.ndarray] | None,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    torch: Any,
    lr_at: Callable[[int], float] | None = None,
    verbose: int = 0,
) -> list[dict[str, float]]:
    """PyTorch's version of :func:`scratchnn.training.fit`'s loop, record for record.

    Each epoch visits the examples in the order ``rng.permutation(n)``, exactly as
    :func:`scratchnn.training.batches` does, and records the same History columns.
    ``lr_at(epoch)`` (0-based) sets the learning rate at the start of each epoch, as ``fit``
    does with its ``lr_schedule``. ``verbose`` shows progress as ``fit`` does (1 the same
    bar, 2 a line per epoch).
    """
    loss_fn, classification = _torch_loss(loss, torch)
    X = torch.from_numpy(X_train)
    T = _torch_targets(y_train, loss, torch, X_train.dtype)
    if validation is not None:
        X_val = torch.from_numpy(validation[0])
        T_val = _torch_targets(validation[1], loss, torch, X_train.dtype)
    n = len(X_train)
    bar, shown = _progress(verbose, epochs, n, batch_size, classification)
    records = []
    try:
        for epoch in range(epochs):
            records.append(
                _torch_epoch(
                    net,
                    optimizer,
                    loss_fn,
                    classification,
                    X,
                    T,
                    batch_size,
                    epoch,
                    rng,
                    torch,
                    lr_at,
                    bar,
                    shown,
                )
            )
            if validation is not None:
                net.eval()
                records[-1]["val_loss"], records[-1]["val_accuracy"] = _torch_evaluate(
                    net, X_val, T_val, loss_fn, classification, max(batch_size, 1024), torch
                )
            bar.on_epoch_end(epoch + 1, records[-1])
    except BaseException as error:
        bar.on_exception(error)
        raise
    return records


def _progress(
    verbose: int, epochs: int, n: int, batch_size: int, classification: bool
) -> tuple[ProgressBar, SimpleNamespace]:
    """``fit``'s progress bar, and the few numbers of the loop it reads (``bar.state``)."""
    bar = ProgressBar(verbose)
    bar.state = shown = SimpleNamespace(
        epochs=epochs,
        n_batches=math.ceil(n / batch_size),
        batch=0,
        batch_size=batch_size,
        n_examples=n,
        loss_sum=0.0,
        correct_sum=0.0,
        loss=SimpleNamespace(is_classification=classification),
    )
    return bar, shown


def _torch_epoch(
    net, optimizer, loss_fn, classification, X, T, batch_size, epoch, rng, torch, lr_at, bar, shown
) -> dict[str, float]:
    """One epoch of :func:`train_torch`: its History row, without validation."""
    n = len(X)
    if lr_at is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(epoch)
    order = torch.from_numpy(rng.permutation(n))
    total = correct = 0.0
    shown.batch, shown.loss_sum, shown.correct_sum = 0, 0.0, 0.0
    bar.on_epoch_begin(epoch + 1, {})
    start = time.perf_counter()
    net.train()
    for s in range(0, n, batch_size):
        idx = order[s : s + batch_size]
        Xb, Tb = X[idx], T[idx]
        out = net(Xb)
        value = loss_fn(out, Tb)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        batch_loss = value.item()
        total += batch_loss * len(idx)
        correct += _correct(out.detach(), Tb, classification)
        shown.batch, shown.loss_sum, shown.correct_sum = shown.batch + 1, total, correct
        bar.on_batch_end(shown.batch, {"loss": batch_loss, "size": len(idx)})
    seconds = time.perf_counter() - start
    return {
        "epoch": epoch + 1,
        "loss": total / n,
        "accuracy": correct / n if classification else float("nan"),
        "val_loss": float("nan"),
        "val_accuracy": float("nan"),
        "lr": optimizer.param_groups[0]["lr"],
        "seconds": seconds,
    }


def compare_with_torch(
    config: Mapping[str, Any],
    out_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
    verbose: int = 1,
    plots: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train ``config``'s model in scratchnn and in PyTorch from the same start; write the table.

    Writes ``config.json``, ``compare.csv`` (per epoch: both training losses, validation
    losses and accuracies, seconds), ``compare.json`` (the summary) and ``compare.png`` (the
    overlaid loss curves and their difference) into the run folder; returns the summary.
    """
    torch = import_torch()

    experiment = experiments.prepare_experiment(config)
    config = experiment.config
    data, model = experiment.data, experiment.model
    net = to_torch(model, torch)  # copies the initial weights before scratchnn trains
    run_dir = experiments.make_run_dir(out_dir, f"compare-{data.name}-{config['model']}", overwrite)
    write_json(run_dir / "config.json", config)
    log(
        f"{data.name}: {data.sizes[0]:,} train / {data.sizes[1]:,} validation / "
        f"{data.sizes[2]:,} test; model {experiments.describe_model(model)} "
        f"({model.num_parameters:,} parameters, {model.dtype.name}); PyTorch {torch.__version__}"
    )
    validation = (experiment.X_val, data.y_val) if experiment.X_val is not None else None

    ours = experiments.make_optimizer(config)
    theirs = torch_optimizer(ours, net.parameters(), torch)
    schedule = experiments.make_schedule(config)
    base_lr = ours.initial_lr
    log("scratchnn:")
    start = time.perf_counter()
    history = fit(
        model,
        experiment.X_train,
        data.y_train,
        loss=experiment.loss,
        optimizer=ours,
        lr_schedule=schedule,
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        validation_data=validation,
        rng=experiments.rng_for(config["seed"], "shuffle"),
        verbose=verbose,
    )
    our_seconds = time.perf_counter() - start
    our_test = evaluate(model, experiment.X_test, data.y_test, loss=experiment.loss)

    log("PyTorch:")
    start = time.perf_counter()
    records = train_torch(
        net,
        theirs,
        experiment.loss,
        experiment.X_train,
        data.y_train,
        validation,
        config["epochs"],
        config["batch_size"],
        experiments.rng_for(config["seed"], "shuffle"),
        torch,
        lr_at=lambda epoch: schedule.lr_at(epoch, base_lr),
        verbose=verbose,
    )
    torch_seconds = time.perf_counter() - start
    loss_fn, classification = _torch_loss(experiment.loss, torch)
    net.eval()
    torch_test = _torch_evaluate(
        net,
        torch.from_numpy(experiment.X_test),
        _torch_targets(data.y_test, experiment.loss, torch, experiment.X_test.dtype),
        loss_fn,
        classification,
        1024,
        torch,
    )

    ours_frame = history.to_dataframe()
    theirs_frame = pd.DataFrame(records)
    table = pd.DataFrame({"epoch": ours_frame["epoch"]})
    for column in ("loss", "val_loss", "accuracy", "val_accuracy", "seconds"):
        table[f"scratchnn_{column}"] = ours_frame[column]
        table[f"torch_{column}"] = theirs_frame[column]
    gap = np.abs(table["scratchnn_loss"] - table["torch_loss"]).to_numpy()
    timed = timed_epochs(len(table))
    per_epoch = (
        median_seconds(ours_frame["seconds"], timed),
        median_seconds(theirs_frame["seconds"], timed),
    )
    summary = {
        "dataset": data.name,
        "architecture": experiments.describe_model(model),
        "parameters": model.num_parameters,
        "dtype": model.dtype.name,
        "epochs": len(table),
        "torch_version": torch.__version__,
        "scratchnn": {
            "test_accuracy": our_test.accuracy,
            "test_loss": our_test.loss,
            "train_seconds": our_seconds,
            "seconds_per_epoch": per_epoch[0],
            "mean_seconds_per_epoch_all": float(ours_frame["seconds"].mean()),
            "final_train_loss": float(ours_frame["loss"].iloc[-1]),
        },
        "torch": {
            "test_accuracy": torch_test[1],
            "test_loss": torch_test[0],
            "train_seconds": torch_seconds,
            "seconds_per_epoch": per_epoch[1],
            "mean_seconds_per_epoch_all": float(theirs_frame["seconds"].mean()),
            "final_train_loss": float(theirs_frame["loss"].iloc[-1]),
        },
        "max_abs_loss_difference": float(gap.max()),
        "max_rel_loss_difference": float(
            (gap / np.maximum(np.abs(table["torch_loss"].to_numpy()), 1e-300)).max()
        ),
        "seconds_per_epoch_ratio": per_epoch[0] / per_epoch[1] if per_epoch[1] > 0 else None,
        # seconds_per_epoch: the median over these epochs (the first is warm-up: PyTorch's
        # first steps set up its allocator and kernels, and take many times longer)
        "timed_epochs": timed,
    }
    write_csv(run_dir / "compare.csv", table)
    write_json(run_dir / "compare.json", summary)
    files = ["config.json", "compare.csv", "compare.json"]
    if plots:
        # matplotlib is heavy: imported only when the plots are drawn
        from .plotting.curves import comparison_curves

        comparison_curves(
            table,
            path=run_dir / "compare.png",
            title=f"{data.name}, {summary['architecture']} ({model.dtype.name}): "
            "scratchnn and PyTorch from the same start",
        )
        files.append("compare.png")
    experiments.release_run_dir(run_dir)  # make_run_dir locked it for this comparison

    def pct(v: float) -> str:
        return "–" if not math.isfinite(v) else f"{100 * v:.2f} %"

    rows = [
        ("", f"{'scratchnn':>12}  {'PyTorch':>12}"),
        ("test accuracy", f"{pct(our_test.accuracy):>12}  {pct(torch_test[1]):>12}"),
        ("test loss", f"{our_test.loss:>12.6f}  {torch_test[0]:>12.6f}"),
        (
            f"s/epoch, median of {describe_epochs(timed, len(table))}",
            f"{per_epoch[0]:>12.3f}  {per_epoch[1]:>12.3f}",
        ),
        ("max |loss difference|", f"{summary['max_abs_loss_difference']:>12.3g}"),
    ]
    log("")
    log(experiments.summary_table(rows, title=f"compare: {run_dir}"))
    log("files: " + ", ".join(files))
    return summary
