"""Model files: round trip, no pickle, atomic, versioned, clear errors."""

from __future__ import annotations

import io
import json
import os
import pathlib
import pickle
import stat
import time
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scratchnn as snn
from scratchnn.errors import ModelFileError, OutputError
from scratchnn.io import FORMAT_VERSION, read_npz, write_npz


def test_roundtrip_keeps_architecture_parameters_and_metadata(tmp_path):
    model = snn.mlp([3, 8, 8, 2], activation="tanh", dropout=0.2, rng=0, dtype=np.float64)
    model.metadata = {"classes": ["cat", "dog"]}
    model.save(tmp_path / "m.npz")
    clone = snn.load(tmp_path / "m.npz")
    assert clone.dtype == np.float64 and clone.metadata == {"classes": ["cat", "dog"]}
    X = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_array_equal(clone.predict(X), model.predict(X))


def test_pickled_content_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"__scratchnn__": np.array("{}"), "x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ModelFileError, match="pickled"):
        snn.load(path)


def test_truncated_file_is_a_clear_error(tmp_path):
    model = snn.mlp([3, 4, 2], rng=0)
    model.save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="corrupted or truncated"):
        snn.load(tmp_path / "cut.npz")


def test_future_version_is_refused(tmp_path):
    write_npz(tmp_path / "f.npz", {"kind": "model"}, {})
    meta, arrays = read_npz(tmp_path / "f.npz")
    meta["version"] = FORMAT_VERSION + 1
    np.savez(tmp_path / "g.npz", __scratchnn__=np.array(json.dumps(meta)))
    with pytest.raises(ModelFileError, match="newer than this scratchnn reads"):
        snn.load(tmp_path / "g.npz")


def test_missing_parameter_is_not_a_silent_partial_load(tmp_path):
    model = snn.mlp([3, 4, 2], rng=0)
    meta = {"kind": "model", "architecture": model.get_config()}
    arrays = {f"param/{k}": v for k, v in model.state_dict().items() if k != "2.b"}
    write_npz(tmp_path / "p.npz", meta, arrays)
    with pytest.raises(ModelFileError, match=r"missing \['2.b'\]"):
        snn.load(tmp_path / "p.npz")


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    model = snn.mlp([3, 4, 2], rng=0)
    path = tmp_path / "m.npz"
    model.save(path)
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(snn.ScratchnnError, match="No space left on device"):
        snn.mlp([3, 4, 2], rng=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind


def test_not_a_scratchnn_file(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a scratchnn file"):
        snn.load(tmp_path / "plain.npz")
    with pytest.raises(ModelFileError, match="not found"):
        snn.load(tmp_path / "none.npz")


# -- nothing in a file can run code ------------------------------------------------------------
class _Payload:
    """Unpickling this creates a marker file: proof that pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _npz_bytes(**entries) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **entries)
    return buffer.getvalue()


def test_a_pickled_object_inside_a_model_file_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    model = snn.mlp([3, 4, 2], rng=0)
    model.save(tmp_path / "m.npz")
    meta, arrays = read_npz(tmp_path / "m.npz")
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(marker)
    arrays["param/0.b"] = evil
    path = tmp_path / "evil.npz"
    path.write_bytes(_npz_bytes(__scratchnn__=np.array(json.dumps(meta)), **arrays))
    for load in (snn.load, snn.load_checkpoint, read_npz):
        with pytest.raises(ModelFileError, match="pickled Python objects"):
            load(path)
    assert not marker.exists()


def test_a_raw_pickle_and_a_pickle_inside_the_zip_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    raw = pickle.dumps(_Payload(marker))
    (tmp_path / "raw.npz").write_bytes(raw)
    with pytest.raises(ModelFileError, match=r"not an \.npz archive"):
        snn.load(tmp_path / "raw.npz")
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as archive:
        archive.writestr("__scratchnn__.npy", raw)
    with pytest.raises(ModelFileError, match="corrupted"):
        snn.load(tmp_path / "zip.npz")
    with zipfile.ZipFile(tmp_path / "pkl.npz", "w") as archive:
        archive.writestr("model.pkl", raw)
    with pytest.raises(ModelFileError, match=r"unexpected entry .model\.pkl."):
        snn.load(tmp_path / "pkl.npz")
    assert not marker.exists()


def test_a_flipped_byte_in_the_parameters_is_caught_by_the_checksum(tmp_path):
    model = snn.mlp([3, 4, 2], rng=0)
    model.save(tmp_path / "m.npz")
    data = bytearray((tmp_path / "m.npz").read_bytes())
    weights = model.layers[0].params["W"].tobytes()
    at = bytes(data).index(weights) + 5  # inside the stored float32 weights
    data[at] ^= 0x01
    (tmp_path / "flipped.npz").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"corrupted or truncated.*CRC"):
        snn.load(tmp_path / "flipped.npz")


def test_other_foreign_files_are_named(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ModelFileError, match="file is empty"):
        snn.load(tmp_path / "empty.npz")
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(ModelFileError, match=r"single \.npy array"):
        snn.load(tmp_path / "a.npy")
    np.savez_compressed(tmp_path / "c.npz", __scratchnn__=np.array("{}"))
    with pytest.raises(ModelFileError, match="compressed"):
        snn.load(tmp_path / "c.npz")
    model = snn.mlp([3, 4, 2], rng=0)
    model.save(tmp_path / "m.npz")
    with pytest.raises(ModelFileError, match="is a model file, not a training checkpoint"):
        snn.load_checkpoint(tmp_path / "m.npz")


def test_a_different_architecture_is_refused(tmp_path):
    small = snn.mlp([3, 4, 2], rng=0)
    meta = {"kind": "model", "architecture": snn.mlp([3, 5, 2], rng=0).get_config()}
    write_npz(tmp_path / "x.npz", meta, {f"param/{k}": v for k, v in small.state_dict().items()})
    with pytest.raises(ModelFileError, match=r"parameter 0.W has shape \(5, 3\)"):
        snn.load(tmp_path / "x.npz")


def test_unserialisable_metadata_is_an_input_error(tmp_path):
    model = snn.mlp([3, 4, 2], rng=0)
    model.metadata = {"scaler": object()}
    with pytest.raises(snn.InputError, match="metadata must be JSON values"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


# -- property-based: any bytes give a model or a ModelFileError -----------------------------------
def _load_or_model_file_error(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return snn.load(path)
        except ModelFileError as exc:
            assert "\n" not in str(exc)
            return None


_ORIGINAL = snn.mlp([3, 4, 2], dropout=0.1, rng=0)


@pytest.fixture(scope="module")
def valid_file_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("valid") / "m.npz"
    _ORIGINAL.save(path)
    return path.read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_model_files_never_crash_load_or_load_something_else(
    tmp_path_factory, valid_file_bytes, data
):
    blob = bytearray(valid_file_bytes)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        edit = data.draw(st.sampled_from(["flip", "truncate", "insert", "zero"]), label="edit")
        at = data.draw(st.integers(0, max(len(blob) - 1, 0)), label="at")
        if edit == "flip" and blob:
            blob[at] ^= data.draw(st.integers(1, 255), label="mask")
        elif edit == "truncate":
            del blob[at:]
        elif edit == "insert":
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        else:
            blob[at : at + 16] = bytes(len(blob[at : at + 16]))
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    path.write_bytes(bytes(blob))
    model = _load_or_model_file_error(path)
    if model is not None:  # damage the checks let through (timestamps, padding) changed nothing
        assert model.get_config() == _ORIGINAL.get_config()
        for name, value in _ORIGINAL.state_dict().items():
            np.testing.assert_array_equal(model.state_dict()[name], value)


@settings(max_examples=200, deadline=None)
@given(blob=st.binary(max_size=200))
def test_random_bytes_never_crash_load(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "r.npz"
    path.write_bytes(b"PK\x03\x04" + blob if blob[:1] == b"\x00" else blob)
    _load_or_model_file_error(path)


@settings(max_examples=200, deadline=None)
@given(
    architecture=st.recursive(
        st.none() | st.booleans() | st.integers(-3, 5) | st.text(max_size=12),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=12,
    )
    | st.fixed_dictionaries(
        {
            "dtype": st.sampled_from(["float32", "int8", "nonsense", 3]),
            "layers": st.lists(
                st.fixed_dictionaries(
                    {
                        "class": st.sampled_from(["Dense", "ReLU", "Dropout", "Nope", 5]),
                        "config": st.dictionaries(
                            st.sampled_from(["in_features", "out_features", "p", "bias", "x"]),
                            st.integers(-2, 4) | st.floats() | st.text(max_size=3),
                            max_size=3,
                        ),
                    }
                ),
                max_size=3,
            ),
        }
    )
)
def test_any_architecture_json_gives_a_model_or_a_model_file_error(tmp_path_factory, architecture):
    path = tmp_path_factory.mktemp("arch") / "a.npz"
    write_npz(path, {"kind": "model", "architecture": architecture}, {})
    _load_or_model_file_error(path)


def test_a_loaded_model_names_the_wrong_feature_count(tmp_path):
    snn.mlp([3, 4, 2], rng=0).save(tmp_path / "m.npz")
    model = snn.load(tmp_path / "m.npz")
    for call in (model.predict, lambda X: model.evaluate(X, [0, 1])):
        with pytest.raises(
            snn.ShapeError, match="has 5 features per example but the model expects 3"
        ):
            call(np.zeros((2, 5)))


def test_metadata_may_use_the_names_model_and_path(tmp_path):
    """save_model's own parameters are positional-only, so no metadata key can collide."""
    from scratchnn.io import save_model

    model = snn.mlp([2, 3, 2], rng=0)
    save_model(model, tmp_path / "m.npz", model="mlp", path="runs/x", kind="anything")
    assert snn.load(tmp_path / "m.npz").metadata == {
        "model": "mlp",
        "path": "runs/x",
        "kind": "anything",
    }
    model.metadata = {"model": "mlp", "path": "p"}
    model.save(tmp_path / "n.npz")
    assert snn.load(tmp_path / "n.npz").metadata == {"model": "mlp", "path": "p"}


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_mode_of_a_new_file(tmp_path, umask):
    """mkstemp's 0600 is not kept: 0666 & ~umask, as open() would give, for every writer."""
    import os
    import stat

    from scratchnn.io import atomic_write_bytes

    def mode(path):
        return stat.S_IMODE(os.stat(path).st_mode)

    previous = os.umask(umask)
    try:
        with open(tmp_path / "plain", "wb"):
            pass
        atomic_write_bytes(tmp_path / "bytes.txt", b"x")
        snn.mlp([2, 3, 2], rng=0).save(tmp_path / "model.npz")
        X, y = snn.datasets.circle_regions(32, seed=0)
        snn.mlp([2, 3, 2], rng=0).fit(X, y, epochs=1, verbose=0, checkpoint=tmp_path / "run")
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    assert mode(tmp_path / "plain") == expected
    for path in ("bytes.txt", "model.npz", "run/checkpoint.npz", "run/history.csv"):
        assert mode(tmp_path / path) == expected, path


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    import os
    import stat

    from scratchnn.io import atomic_write_bytes

    path = tmp_path / "notes.txt"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(os.stat(path).st_mode) == 0o640


# -- special files at the output path (issue 18) -------------------------------------------
def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    from scratchnn.io import atomic_write_bytes

    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and target.read_text() == "new"


def test_a_fifo_with_a_reader_receives_the_bytes(tmp_path):
    import threading

    from scratchnn.io import atomic_write_bytes

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    for _ in range(200):  # wait until the reader has opened its end
        try:
            atomic_write_bytes(fifo, b"payload")
            break
        except OutputError:
            time.sleep(0.01)
    reader.join(timeout=5)
    assert received == [b"payload"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO, not replaced by a file


def test_a_fifo_without_a_reader_is_refused_at_once(tmp_path):
    from scratchnn.io import atomic_write_bytes

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="a FIFO with no reader"):
        atomic_write_bytes(fifo, b"payload")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("minor, fails", [(3, False), (7, True)], ids=["null", "full"])
def test_a_device_is_written_to_not_replaced(tmp_path, minor, fails):
    """A device node made in tmp_path (1,3 is what /dev/null is, 1,7 /dev/full)."""
    from scratchnn.io import atomic_write_bytes

    device = tmp_path / "device"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc})")
    if fails:
        with pytest.raises(OutputError, match="No space left on device"):
            atomic_write_bytes(device, b"x" * 10)
    else:
        atomic_write_bytes(device, b"x" * 10)
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_a_directory_at_the_output_path_is_refused(tmp_path):
    from scratchnn.io import atomic_write_bytes

    with pytest.raises(OutputError, match="is a directory"):
        atomic_write_bytes(tmp_path, b"x")
