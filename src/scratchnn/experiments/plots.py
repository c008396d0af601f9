"""The figures of a run folder, chosen by what the dataset and the model are.

:func:`~scratchnn.experiments.write_plots` draws them with :mod:`scratchnn.plotting`, which is imported only here,
when a run draws its figures: matplotlib is heavy, and ``scratchnn --help`` or a run with
``--no-plots`` should not load it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..models.lm import GPT
from .experiment import Experiment
from .results import format_number, format_percent, summary_rows
from .transform import outputs_to_labels, predict_outputs

__all__ = ["write_language_plots", "write_plots"]


def write_plots(
    run_dir: Path, experiment: Experiment, history: Any, metrics: Mapping[str, Any]
) -> list[Path]:
    """Write the figures that suit the dataset; returns their paths.

    Always ``curves.png`` (loss and accuracy per epoch with the results table). Classifiers
    add ``confusion_matrix.png``; 2-D datasets ``dataset.png`` and ``decision_regions.png``;
    images ``predictions.png`` and ``weights.png`` (first Dense layer), or for a convolutional
    network ``filters.png`` and ``feature_maps.png``; a 1-D regression ``fit.png``.
    """
    # matplotlib is heavy: imported only when plots are drawn
    from ..plotting import classification, curves, images

    data, model, config = experiment.data, experiment.model, experiment.config
    written = []
    title = f"{data.name}: {metrics['model']} {metrics['architecture']}"
    path = run_dir / "curves.png"
    curves.training_curves(
        history,
        dict(summary_rows(metrics, config)),
        path=path,
        chance=metrics.get("chance_accuracy"),
        title=title,
        test_accuracy=metrics.get("test_accuracy"),
        test_loss=metrics.get("test_loss"),
        best=metrics.get("best_possible_accuracy"),
    )
    written.append(path)

    if data.task == "classification":
        outputs = model.predict(experiment.X_test)
        y_pred = outputs_to_labels(outputs)
        path = run_dir / "confusion_matrix.png"
        classification.confusion_matrix_plot(
            data.y_test, y_pred, data.classes, path=path, title=f"{data.name}: confusion matrix"
        )
        written.append(path)

        def predict(X_raw: np.ndarray) -> np.ndarray:
            return outputs_to_labels(predict_outputs(model, X_raw))

        if data.is_2d:
            path = run_dir / "dataset.png"
            classification.dataset_scatter(
                data.X_train,
                data.y_train,
                data.classes,
                path=path,
                title=f"{data.name}: training data",
                axis_labels=data.feature_names or ("x", "y"),
            )
            written.append(path)
            path = run_dir / "decision_regions.png"
            best = data.info.bayes if data.info is not None else None
            classification.decision_regions(
                predict,
                data.X_test,
                data.y_test,
                data.classes,
                path=path,
                best=best,
                axis_labels=data.feature_names or ("x", "y"),
                title=f"{data.name}: decision regions, test points "
                f"({format_percent(metrics['test_accuracy'])} right)",
            )
            written.append(path)
        if data.image_shape is not None:
            shown = images.choose_examples(data.y_test, y_pred, n=40)
            wrong = int(np.sum(data.y_test[shown] != y_pred[shown]))
            total_wrong = int(np.sum(data.y_test != y_pred))
            path = run_dir / "predictions.png"
            images.prediction_grid(
                data.X_test[shown],
                data.y_test[shown],
                y_pred[shown],
                data.classes,
                path=path,
                title=f"{data.name}: the first {len(shown) - wrong} test images and {wrong} of "
                f"the {total_wrong:,} misclassified ones (red: predicted, and the true label)",
            )
            written.append(path)
            first = model.layers[0]
            if type(first).__name__ == "Dense" and first.in_features == data.input_size:
                path = run_dir / "weights.png"
                images.weight_images(first.params["W"], data.image_shape, path=path)
                written.append(path)
            if any(type(layer).__name__ == "Conv2D" for layer in model):
                written += _cnn_plots(run_dir, experiment, y_pred)
    elif data.X_train.ndim == 2 and data.X_train.shape[1] == 1:
        path = run_dir / "fit.png"
        truth = (lambda x: np.sin(x)) if data.name == "sine" else None
        classification.regression_fit(
            lambda X_raw: predict_outputs(model, X_raw),
            data.X_test,
            data.y_test,
            path=path,
            truth=truth,
            title=f"{data.name}: model fit on the test points "
            f"(MSE {format_number(metrics['test_loss'])})",
        )
        written.append(path)
    return written


def _cnn_plots(run_dir: Path, experiment: Experiment, y_pred: np.ndarray) -> list[Path]:
    """``filters.png`` (the first convolution's kernels) and ``feature_maps.png`` (what every
    convolution block makes of the first test image)."""
    # matplotlib is heavy: imported only when plots are drawn
    from ..plotting import cnn as cnn_plots

    data, model = experiment.data, experiment.model
    path = run_dir / "filters.png"
    cnn_plots.plot_filters(model, path=path)
    written = [path]
    label, predicted = data.classes[int(data.y_test[0])], data.classes[int(y_pred[0])]
    path = run_dir / "feature_maps.png"
    cnn_plots.plot_feature_maps(
        model,
        experiment.X_test[0],
        path=path,
        title=f"{data.name}: feature maps of the first test image "
        f"(label {label}, predicted {predicted})",
    )
    written.append(path)
    return written


def write_language_plots(
    run_dir: Path,
    model: Any,
    tokenizer: Any,
    history: Any,
    results: Mapping[str, str],
    title: str,
    names: Sequence[str],
    metrics: Mapping[str, Any],
) -> list[Path]:
    """A language model's figures: ``curves.png``, and for a GPT ``attention.png``.

    The curves are the training loss (over the training layout's examples) and the
    validation loss (over whole names), both in nats per character, with the results
    table. The attention maps show every head on one name of ``names`` (the test names):
    the first one of at least 6 characters that fits the context.
    """
    # matplotlib is heavy: imported only when plots are drawn
    from ..plotting import curves, lm

    frame = history.to_dataframe().drop(columns=["accuracy", "val_accuracy"])
    path = run_dir / "curves.png"
    curves.training_curves(
        frame,
        dict(results),
        path=path,
        title=f"{title} (loss in nats per character)",
        test_loss=metrics.get("test_loss"),
    )
    written = [path]
    if isinstance(model, GPT):
        known, _ = tokenizer.known(names)
        fits = [n for n in known if len(n) < model.block_size]
        if fits:
            name = next((n for n in fits if len(n) >= 6), fits[0])
            ids = [0, *tokenizer.encode(name)]
            path = run_dir / "attention.png"
            lm.attention_maps(
                model,
                ids,
                [tokenizer.itos[i] for i in ids],
                path=path,
                title=f"{title}: every head reading '.{name}'",
            )
            written.append(path)
    return written
