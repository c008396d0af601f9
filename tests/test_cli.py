"""The command line: demo, entry points, exit codes."""

from __future__ import annotations

import subprocess
import sys

from scratchnn import cli


def test_demo_trains_and_reports_accuracy(capsys):
    assert cli.main(["demo", "--epochs", "5"]) == 0
    out = capsys.readouterr().out
    assert "circle" in out and "square" in out and "%" in out


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_python_dash_m_works():
    result = subprocess.run(
        [sys.executable, "-m", "scratchnn", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "scratchnn" in result.stdout
