"""The subcommands as one family: the same option names, parsers, messages and progress bar."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
import warnings

import numpy as np
import pytest

import scratchnn as snn
from scratchnn import cli, experiments
from scratchnn.cli._common import hidden_sizes
from scratchnn.errors import ScratchnnWarning
from scratchnn.training.callbacks import progress

# -- --hidden -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sizes"), [("16", [16]), ("256,128", [256, 128]), ("none", []), ("None", [])]
)
def test_hidden_sizes_reads_comma_separated_positive_numbers_or_none(text, sizes):
    assert hidden_sizes(text) == sizes


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("10 5", "'10 5'"),
        ("10,,5", "an empty part in '10,,5'"),
        ("-4", "'-4'"),
        ("abc", "'abc'"),
        ("16,", "an empty part in '16,'"),
        ("0", "'0'"),
        ("16,0", "'0' in '16,0'"),
        ("", "empty"),
    ],
)
def test_hidden_sizes_refuses_anything_else_naming_the_bad_part(text, named):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        hidden_sizes(text)
    message = str(info.value)
    assert message.startswith(named) and "\n" not in message
    assert "such as 16,16" in message and "'none' for no hidden layer" in message


@pytest.mark.parametrize("command", ["train", "compare", "vae"])
def test_every_command_parses_hidden_with_the_same_function(command):
    parser = cli.build_parser()
    args = parser.parse_args([command, "--dataset", "mnist", "--hidden", "256,128"])
    assert list(args.hidden) == [256, 128]
    with pytest.raises(SystemExit) as info:
        parser.parse_args([command, "--dataset", "mnist", "--hidden", "10 5"])
    assert info.value.code == 2


def test_bad_hidden_is_a_one_line_error_with_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["vae", "--hidden", "10,,5"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: scratchnn vae")
    last = err.strip().splitlines()[-1]
    assert last.startswith("scratchnn vae: error: argument --hidden: an empty part in '10,,5'")


# -- option names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "old"),
    [
        (["evaluate", "--model", "m.npz"], "--output"),
        (["predict", "--model", "m.npz", "--input", "x.csv"], "--output"),
        (["download", "mnist"], "--dir"),
    ],
)
def test_output_is_out_everywhere_and_the_old_spelling_still_works(argv, old, capsys):
    parser = cli.build_parser()
    assert parser.parse_args([*argv, "--out", "here"]).out == "here"
    assert parser.parse_args([*argv, old, "there"]).out == "there"
    with pytest.raises(SystemExit):
        parser.parse_args([argv[0], "--help"])
    shown = capsys.readouterr().out
    assert "--out" in shown and old not in shown


def test_every_command_that_writes_names_it_out():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        shown = {
            o for a in command._actions if a.help != argparse.SUPPRESS for o in a.option_strings
        }
        assert not shown & {"--output", "--dir", "--output-dir"}, name


# -- did you mean -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "usage", "hint"),
    [
        (["train", "--dataset", "circle", "--hiden", "4"], "usage: scratchnn train", "'--hidden'"),
        (["vae", "--epohcs", "2"], "usage: scratchnn vae", "'--epochs'"),
        (["evaluate", "--model", "m.npz", "--outptu", "x"], "usage: scratchnn evaluate", "'--out'"),
        (["train", "--dataset", "circle", "--model", "mpl"], "usage: scratchnn train", "'mlp'"),
        (["trian"], "usage: scratchnn ", "'train'"),
    ],
)
def test_unknown_options_choices_and_commands_suggest_the_close_one(argv, usage, hint, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage)
    last = err.strip().splitlines()[-1]
    assert f"did you mean {hint}?" in last


def test_an_unknown_dataset_suggests_the_close_one(capsys, tmp_path):
    assert cli.main(["train", "--dataset", "circel", "--verbose", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown dataset 'circel'; did you mean 'circle'?" in err
    assert cli.main(["datasets", "sqare", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot export 'sqare' (did you mean 'square'?)" in err
    with pytest.raises(SystemExit):
        cli.main(["download", "mnst"])
    assert "(did you mean 'mnist'?)" in capsys.readouterr().err


# -- the progress bar -------------------------------------------------------------------------


def _toy(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def _model():
    return snn.Sequential(
        [snn.Dense(2, 16, rng=0), snn.ReLU(), snn.Dense(16, 2, rng=1)], dtype="float64"
    )


def _rendered(text: str) -> list[str]:
    """Every state the bar was drawn in: the text between carriage returns and newlines."""
    return [part for line in text.split("\n") for part in line.split("\r") if part.strip()]


@pytest.mark.parametrize("epochs", [3, 100])
def test_the_bar_fits_80_columns_and_keeps_the_validation_metrics(monkeypatch, epochs):
    X, y = _toy(n=600 if epochs > 10 else 3000)
    screen = io.StringIO()
    monkeypatch.setattr(
        "scratchnn.training.trainer.ProgressBar",
        lambda verbose: progress.ProgressBar(verbose, width=80, file=screen),
    )
    history = _model().fit(
        X, y, epochs=epochs, batch_size=2, validation_data=(X[:200], y[:200]), seed=0
    )
    lines = _rendered(screen.getvalue())
    assert max(len(line) for line in lines) <= 80
    last = next(line for line in reversed(lines) if line.startswith(f"epoch {epochs}/{epochs} "))
    val = history.records[-1]
    assert f"val_loss={val['val_loss']:.4f}" in last
    assert f"val_acc={100 * val['val_accuracy']:.1f}%" in last


def test_the_bar_shows_the_running_mean_loss_of_the_epoch(monkeypatch):
    X, y = _toy(n=400)
    shown = []

    class Spy(progress.ProgressBar):
        def on_batch_end(self, batch, logs):
            super().on_batch_end(batch, logs)
            shown.append((self._bar.postfix, logs["loss"], logs["size"]))

    monkeypatch.setattr(
        "scratchnn.training.trainer.ProgressBar",
        lambda verbose: Spy(verbose, width=80, file=io.StringIO()),
    )
    history = _model().fit(X, y, epochs=1, batch_size=8, seed=0)
    total = count = 0.0
    for batch, (postfix, loss, size) in enumerate(shown, start=1):
        total, count = total + loss * size, count + size
        if (batch - 1) % 20 == 0:  # when the bar's numbers are refreshed
            assert postfix.startswith(f"loss={total / count:.4f} acc=")
    assert f"{total / count:.4f}" == f"{history.records[-1]['loss']:.4f}"
    losses = [loss for _, loss, _ in shown]
    assert max(losses) - min(losses) > 0.01  # the last batch's loss would not do


def test_without_ipywidgets_a_notebook_gets_the_text_bar_quietly(monkeypatch):
    class ZMQInteractiveShell:
        pass

    fake_ipython = type(sys)("IPython")
    fake_ipython.get_ipython = ZMQInteractiveShell
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", type(sys)("ipykernel.zmqshell"))
    assert progress._in_notebook()
    monkeypatch.setattr(progress, "_widgets_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # one epoch of a toy run may end at chance: that advice is not what this tests
        warnings.simplefilter("ignore", ScratchnnWarning)
        assert progress.progress_bar_class() is progress.text_tqdm
        X, y = _toy(n=100)
        _model().fit(X, y, epochs=1, batch_size=50, seed=0, verbose=1)


def test_outside_a_notebook_it_is_the_text_bar(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel.zmqshell", raising=False)
    monkeypatch.setattr(progress, "_widgets_available", lambda: True)
    assert not progress._in_notebook()
    assert progress.progress_bar_class() is progress.text_tqdm


def test_verbose_2_is_one_line_per_epoch_with_the_same_names(capsys):
    X, y = _toy(n=200)
    _model().fit(X, y, epochs=2, batch_size=50, seed=0, validation_data=(X, y), verbose=2)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[0].startswith("epoch 1/2: loss ")
    assert "acc " in out[0] and "val_loss " in out[0] and "val_acc " in out[0]


# -- evaluate ---------------------------------------------------------------------------------


def _train_circle(out, *extra):
    argv = ["train", "--dataset", "circle", "--n", "1000", "--epochs", "2", "--out", str(out)]
    assert cli.main([*argv, "--verbose", "0", "--no-plots", *map(str, extra)]) == 0


def test_evaluate_defaults_to_the_runs_dataset_and_warns_on_other_data(tmp_path, capsys):
    run = tmp_path / "circle"
    _train_circle(run)
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(run), "--n", "500"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["dataset"] == "circle" and report["trained_on"] == "circle"
    assert captured.err.strip() == (
        f"scratchnn: evaluating on circle, the dataset of the run ({run / 'config.json'})"
    )
    assert cli.main(["evaluate", "--model", str(run / "model.npz"), "--dataset", "square"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["dataset"] == "square"
    (warning,) = captured.err.strip().splitlines()
    assert warning.startswith("scratchnn: warning: the model was trained on circle, not square")


def test_evaluate_a_model_file_outside_a_run_still_needs_a_dataset(tmp_path, capsys):
    run = tmp_path / "circle"
    _train_circle(run)
    lone = tmp_path / "elsewhere" / "model.npz"
    lone.parent.mkdir()
    lone.write_bytes((run / "model.npz").read_bytes())
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(lone)]) == 2
    assert "what to evaluate on? pass --dataset" in capsys.readouterr().err


# -- Ctrl-C hints -----------------------------------------------------------------------------


class SignalAt(snn.Callback):
    """Send SIGINT to this process after ``step`` training steps, as Ctrl-C would."""

    def __init__(self, step: int) -> None:
        self.step, self.seen = step, 0

    def on_batch_end(self, batch, logs):
        self.seen += 1
        if self.seen == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_in_demo_says_how_to_continue_on_the_command_line(tmp_path, monkeypatch, capsys):
    real = experiments.run_training
    monkeypatch.setattr(
        experiments,
        "run_training",
        lambda config, out, **kw: real(config, out, callbacks=[SignalAt(5)], **kw),
    )
    out = tmp_path / "demo"
    assert cli.main(["demo", "--epochs", "2", "--n", "400", "--out", str(out), "--no-plots"]) == 130
    err = capsys.readouterr().err.strip()
    first = out / "circle-2-3-2"
    assert err == (
        f"scratchnn: training stopped by SIGINT at epoch 1, batch 5; the checkpoint and the "
        f"results so far are in {first}; continue with: scratchnn train --resume {first}"
    )
    assert "resume=True" not in err and "scratchnn.resume" not in err


def test_demo_ends_with_the_same_summary_box(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--epochs", "1", "--n", "400", "--out", str(out), "--no-plots"]) == 0
    printed = capsys.readouterr().out
    box = experiments.summary_table([("x", "y")], title=f"demo: {out}").splitlines()
    assert box[1] in printed.splitlines() and "circle 2-16-16-2 relu" in printed


def test_importing_and_fitting_in_a_notebook_without_ipywidgets_warns_nothing(tmp_path):
    """A fresh Jupyter kernel without ipywidgets: no TqdmWarning, at import or at fit."""
    import subprocess

    code = (
        "import sys, types, warnings\n"
        "caught = warnings.catch_warnings(record=True)\n"
        "seen = caught.__enter__()\n"
        "warnings.simplefilter('always')\n"
        "class ZMQInteractiveShell: pass\n"
        "ipython = types.ModuleType('IPython'); ipython.get_ipython = ZMQInteractiveShell\n"
        "sys.modules['IPython'] = ipython\n"
        "sys.modules['ipykernel.zmqshell'] = types.ModuleType('ipykernel.zmqshell')\n"
        "sys.modules['ipywidgets'] = None  # not installed\n"
        "import numpy as np, scratchnn as snn\n"
        "from scratchnn.training.callbacks import progress\n"
        "assert progress._in_notebook() and progress.progress_bar_class() is progress.text_tqdm\n"
        "X = np.random.default_rng(0).normal(size=(64, 2)); y = (X[:, 0] > 0).astype(int)\n"
        "model = snn.Sequential([snn.Dense(2, 4, rng=0), snn.ReLU(), snn.Dense(4, 2, rng=1)])\n"
        "model.fit(X, y, epochs=1, batch_size=16, seed=0, verbose=1)\n"
        "assert not seen, [str(w.message) for w in seen]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "epoch 1/1 4/4" in result.stderr
