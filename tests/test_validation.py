"""Property-based checks of the package boundary (hypothesis).

Whatever shapes, dtypes and NaN/inf patterns reach ``fit``, ``evaluate`` and ``predict``,
they either work or raise one of scratchnn's own errors (a :class:`ScratchnnError` with a
one-line message), never an unrelated exception from deep inside NumPy, and never a NumPy
warning on the way.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnn as snn
from scratchnn.errors import ScratchnnError, ScratchnnWarning

DTYPES = st.one_of(
    hnp.floating_dtypes(),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    st.just(np.dtype(bool)),
    hnp.complex_number_dtypes(),
    hnp.unicode_string_dtypes(max_len=3),
    hnp.datetime64_dtypes(),
    st.just(np.dtype(object)),
)


def _elements(dtype):
    if dtype.kind == "f":
        return st.floats(allow_nan=True, allow_infinity=True, width=8 * min(dtype.itemsize, 8))
    if dtype.kind == "O":
        return st.one_of(st.none(), st.floats(), st.text(max_size=2), st.integers(-3, 3))
    return None


@st.composite
def arrays(draw, min_dims=0, max_dims=4):
    dtype = draw(DTYPES)
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=6))
    elements = _elements(dtype)
    kwargs = {"elements": elements} if elements is not None else {}
    return draw(hnp.arrays(dtype, shape, **kwargs))


@st.composite
def near_valid_X(draw, n_features=3):
    """Well-shaped numeric data, sometimes with NaN/inf/huge values put in a few places."""
    n = draw(st.integers(0, 12))
    d = draw(st.sampled_from([n_features, n_features, n_features, 1, 0, n_features + 1]))
    dtype = np.dtype(
        draw(st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.uint8]))
    )
    elements = st.floats(-5, 5, width=16) if dtype.kind == "f" else st.integers(0, 9)
    X = draw(hnp.arrays(dtype, (n, d), elements=elements))
    if dtype.kind == "f" and X.size and draw(st.booleans()):
        specials = st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e39, 7e4])
        for _ in range(draw(st.integers(1, 3))):
            index = draw(st.integers(0, X.size - 1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # 1e300 overflows float16/32 on purpose
                X.flat[index] = draw(specials)
    return X


@st.composite
def inputs(draw, n_features=3):
    """Mostly nearly valid data; sometimes anything at all, or a ragged list."""
    kind = draw(st.sampled_from(["near valid"] * 6 + ["anything", "ragged"]))
    if kind == "near valid":
        return draw(near_valid_X(n_features))
    if kind == "anything":
        return draw(arrays())
    return [[1.0] * n_features, [2.0] * (n_features - 1)]


@st.composite
def targets(draw, n):
    kind = draw(
        st.sampled_from(
            ["valid"] * 4 + ["labels", "float labels", "onehot", "column", "any", "ragged"]
        )
    )
    if kind == "valid":
        return draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 1)))
    if kind == "labels":
        return draw(hnp.arrays(np.int64, (n,), elements=st.integers(-2, 4)))
    if kind == "float labels":
        return draw(
            hnp.arrays(
                np.float64,
                (n,),
                elements=st.one_of(
                    st.sampled_from([0.0, 1.0, 0.5, np.nan, np.inf, 1e20, -1e20, 2.0**63]),
                    st.floats(),
                ),
            )
        )
    if kind == "onehot":
        return draw(
            hnp.arrays(
                np.float32, (n, draw(st.integers(1, 3))), elements=st.floats(-1, 2, width=32)
            )
        )
    if kind == "column":
        return draw(hnp.arrays(np.float64, (n, 1), elements=st.floats(allow_nan=True)))
    if kind == "ragged":
        return [[0] * i for i in range(n)]
    return draw(arrays())


def _only_our_errors(call):
    """Run ``call``; a ScratchnnError is fine, anything else (or a warning) fails the test.

    Except scratchnn's own advice (random data often trains to chance accuracy)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ScratchnnWarning)
        try:
            result = call()
        except ScratchnnError as exc:
            message = str(exc)
            assert message and "\n" not in message, f"not a one-line message: {message!r}"
            event(type(exc).__name__)
            return None
    event("succeeded")
    return result


MODELS = {
    "ce": lambda: snn.mlp([3, 4, 2], rng=0),
    "bce": lambda: snn.mlp([3, 4, 1], rng=0),
    "mse": lambda: snn.mlp([3, 4, 1], rng=0),
}

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(data=st.data(), loss=st.sampled_from(sorted(MODELS)))
def test_fit_and_evaluate_on_random_input_raise_only_our_errors(data, loss):
    X = data.draw(inputs(), label="X")
    n = len(X) if isinstance(X, list) or (isinstance(X, np.ndarray) and X.ndim) else 1
    length = data.draw(st.sampled_from([n, n, n, max(n - 1, 0)]), label="len(y)")
    y = data.draw(targets(length), label="y")
    batch_size = data.draw(st.integers(1, 5), label="batch_size")
    model = MODELS[loss]()
    _only_our_errors(
        lambda: model.fit(X, y, loss=loss, epochs=1, batch_size=batch_size, verbose=0, seed=0)
    )
    _only_our_errors(lambda: model.evaluate(X, y, loss=loss, batch_size=batch_size))


@SETTINGS
@given(X=st.one_of(inputs(), st.none()))
def test_predict_on_random_input_raises_only_our_errors(X):
    model = snn.mlp([3, 4, 2], rng=0)
    out = _only_our_errors(lambda: model.predict(X))
    if out is not None:
        assert out.shape == (len(X), 2) and np.isfinite(out).all()
    _only_our_errors(lambda: model.predict_classes(X, batch_size=2))


@SETTINGS
@given(X=st.one_of(near_valid_X(n_features=12), arrays(min_dims=1)))
def test_models_without_a_declared_input_size_check_shapes_too(X):
    model = snn.Sequential(snn.Flatten(), snn.Dense(12, 2, rng=np.random.default_rng(0)))
    _only_our_errors(lambda: model.predict(X))


@SETTINGS
@given(
    validation=st.one_of(
        st.tuples(near_valid_X(), targets(3)),
        st.tuples(st.none(), st.none()),
        st.just((np.zeros((2, 3)),)),
        st.just("not a pair"),
    ),
    split=st.one_of(st.floats(-1, 2), st.sampled_from([0.0, 0.5, 0.99, np.nan])),
)
def test_validation_arguments_raise_only_our_errors(validation, split):
    X = np.random.default_rng(0).standard_normal((6, 3))
    y = np.array([0, 1, 0, 1, 0, 1])
    model = snn.mlp([3, 4, 2], rng=0)
    _only_our_errors(
        lambda: model.fit(X, y, epochs=1, validation_data=validation, verbose=0, seed=0)
    )
    _only_our_errors(lambda: model.fit(X, y, epochs=1, validation_split=split, verbose=0))


@pytest.mark.parametrize(
    "X,match",
    [
        ([[1.0, 2.0, 3.0], [4.0]], "ragged"),
        (np.full((2, 3), 1e39), "too large for float32"),
        (np.array([[1, 2, 3]], dtype="datetime64[s]"), "numeric"),
        (np.array([[1 + 1j, 2, 3]]), "complex"),
    ],
)
def test_examples_of_what_hypothesis_found(X, match):
    with pytest.raises(snn.InputError, match=match):
        snn.mlp([3, 4, 2], rng=0).predict(X)


@pytest.mark.parametrize(
    "y,match",
    [
        (np.array([0.0, 1e20]), r"label 1e\+20"),
        (np.array([0, 2**63], dtype=np.uint64), "label 9223372036854775808"),
        (np.array(["a", "b"]), "dtype <U1"),
        (np.array([[0.0], [1.0]]), "columns"),
    ],
)
def test_label_errors_name_the_bad_value(y, match):
    with pytest.raises(snn.InputError, match=match):
        snn.mlp([3, 4, 2], rng=0).fit(np.zeros((2, 3)), y, epochs=1, verbose=0)
