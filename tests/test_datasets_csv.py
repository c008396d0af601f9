"""CSV files: reading any table with a target column, clear errors, saving generated sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from scratchnn.datasets import circle_regions, load_csv, save_csv, sine
from scratchnn.datasets.tabular import load_features
from scratchnn.errors import InputError, ShapeError

SEED_TOY = Path(os.environ.get("SCRATCHNN_DATA") or REPO.parent / "shared" / "data") / "seed-toy"


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_features_and_integer_labels(tmp_path):
    data = load_csv(write(tmp_path, "a,b,label\n1,2,0\n3,4,1\n5,6,1\n"))
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4], [5, 6]])
    assert data.y.tolist() == [0, 1, 1] and data.classes == [0, 1]
    assert data.feature_names == ["a", "b"] and data.task == "classification"


def test_string_labels_are_mapped_and_the_mapping_kept(tmp_path):
    data = load_csv(write(tmp_path, "x,kind\n1,dog\n2,cat\n3, dog\n4,bird\n"), target="kind")
    assert data.classes == ["bird", "cat", "dog"]
    assert data.y.tolist() == [2, 1, 2, 0]
    # a known mapping (a trained model's) is applied, and an unknown label is refused
    again = load_csv(write(tmp_path, "x,kind\n1,cat\n", "b.csv"), target="kind",
                     classes=data.classes)  # fmt: skip
    assert again.y.tolist() == [1]
    with pytest.raises(InputError, match="'cow' on line 2 is not one of the model's classes"):
        load_csv(write(tmp_path, "x,kind\n1,cow\n", "c.csv"), target="kind", classes=data.classes)


def test_labels_that_are_not_0_to_c_are_mapped(tmp_path):
    data = load_csv(write(tmp_path, "x,label\n1,-1\n2,1\n3,1\n"))
    assert data.classes == [-1, 1] and data.y.tolist() == [0, 1, 1]


def test_fractional_target_is_a_regression(tmp_path):
    data = load_csv(write(tmp_path, "x,label\n1,0.5\n2,1.25\n"))
    assert data.task == "regression" and data.classes is None
    assert data.y.dtype == np.float64 and data.y.tolist() == [0.5, 1.25]
    forced = load_csv(write(tmp_path, "x,label\n1,0\n2,1\n", "f.csv"), task="regression")
    assert forced.task == "regression"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("   \n\n", "the file is empty"),
        ("a,b,label\n", "has a header but no rows"),
        (
            "a,b\n1,2\n3,4\n",
            "no target column 'label' \\(columns: 'a', 'b'\\); name the label column with --target",
        ),
        (
            "a,b,label\n1,,0\n3,4,1\n",
            "1 missing value\\(s\\) in column\\(s\\) 'b' \\(first on line 2\\)",
        ),
        (
            "a,b,label\n1,2,0\n3,4,\n",
            "missing value\\(s\\) in column\\(s\\) 'label' \\(first on line 3\\)",
        ),
        (
            "a,color,label\n1,red,0\n2,blue,1\n",
            "feature column\\(s\\) 'color' are not numeric \\(e.g. 'red' on line 2\\)",
        ),
        ("a,b,label\n1,2,0\n3,oops,1\n", "'b' are not numeric \\(e.g. 'oops' on line 3\\)"),
        ("a,label\n1,cat\n2,cat\n", "only one class \\('cat'\\)"),
        ("a,label\n1,0\n2,0\n", "only one class \\(0\\)"),
        ("a,b,label\n1,2,0,9\n", "more fields than the header"),
        ("a,b,label\n1,2,0\n1,2,0,5\n", "not a readable CSV"),
        ("a,a,label\n1,2,0\n3,4,1\n", "column names must be unique"),
        ("label\n0\n1\n", "no feature columns"),
        ("a,label\ninf,0\n1,1\n", "infinite value on line 2"),
    ],
)
def test_one_line_errors_name_the_file_and_the_fix(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        load_csv(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a directory"):
        load_csv(tmp_path)


def test_features_by_name_for_new_points(tmp_path):
    path = write(tmp_path, "id,y,x,note\n7,2.0,1.0,hello\n8,4.0,3.0,there\n")
    X, names, table = load_features(path, ["x", "y"])
    np.testing.assert_array_equal(X, [[1.0, 2.0], [3.0, 4.0]])
    assert names == ["x", "y"] and list(table.columns) == ["id", "y", "x", "note"]
    with pytest.raises(ShapeError, match="missing feature column\\(s\\) 'z'"):
        load_features(path, ["x", "z"])


def test_save_and_load_round_trip_exactly(tmp_path):
    X, y = circle_regions(200, seed=3)
    path = save_csv(tmp_path / "sub" / "circle.csv", X, y)
    assert path.read_text().splitlines()[0] == "x,y,label"
    data = load_csv(path)
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    X1, t = sine(50, seed=0)
    data = load_csv(save_csv(tmp_path / "sine.csv", X1, t))
    assert data.task == "regression" and data.feature_names == ["x"]
    np.testing.assert_array_equal(data.y, t)
    with pytest.raises(ShapeError):
        save_csv(tmp_path / "bad.csv", X, y[:-1])


@pytest.mark.skipif(not SEED_TOY.exists(), reason="seed-toy not in $SCRATCHNN_DATA")
def test_the_original_projects_csv_files():
    data = load_csv(SEED_TOY / "square_regions.csv")
    assert data.X.shape == (10_000, 2) and data.classes == [0, 1]
    data = load_csv(SEED_TOY / "circle_regions.csv")
    assert data.X.shape == (1_000, 2) and data.feature_names == ["x", "y"]
