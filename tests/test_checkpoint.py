"""nets.save / nets.load: safetensors round trips, atomic writes, and clear errors for files that
are truncated, corrupt, not safetensors, or do not fit the module."""
import os
import pickle

import numpy as np
import pytest
import safetensors.numpy

import autograph as ag
import nets
from nets import checkpoint


def model(out=4):
    ag.manual_seed(0)
    return nets.Sequential(nets.Linear(3, out), nets.Embedding(5, 2).double())


def saved(tmp_path, name="m.safetensors"):
    path = tmp_path / name
    nets.save(model(), path)
    return path


def test_round_trip_keeps_values_dtypes_and_order(tmp_path):
    a = model()
    path = tmp_path / "m.safetensors"
    nets.save(a, path)
    state = nets.load(path)
    assert list(state) == list(a.state_dict()) == ["0.weight", "0.bias", "1.weight"]
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(state[k], v)
        assert state[k].dtype == v.dtype
    b = nets.Sequential(nets.Linear(3, 4), nets.Embedding(5, 2).double())
    nets.load(str(path), into=b)
    for (k, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=k)


def test_plain_dicts_tensors_and_metadata(tmp_path):
    path = tmp_path / "d.safetensors"
    nets.save({"z": ag.tensor([1.0, 2.0]), "a": np.arange(3), "flag": np.array([True])}, path,
              metadata={"epoch": "3"})
    state = nets.load(path)
    assert list(state) == ["z", "a", "flag"]
    np.testing.assert_array_equal(state["a"], [0, 1, 2])
    with safetensors.safe_open(str(path), "np") as f:
        assert f.metadata()["epoch"] == "3"
    with pytest.raises(TypeError, match="'bad'.*dtype <U1"):
        nets.save({"bad": np.array(["x"])}, path)


def test_files_from_other_safetensors_writers_load(tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"w": np.eye(2, dtype=np.float32)}, str(path))
    np.testing.assert_array_equal(nets.load(path)["w"], np.eye(2))


def test_crash_mid_save_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = saved(tmp_path)
    before = path.read_bytes()

    def crash(f, data):
        f.write(data[:len(data) // 2])
        raise OSError("disk full")
    monkeypatch.setattr(checkpoint, "_write", crash)
    with pytest.raises(OSError, match="disk full"):
        nets.save(model(out=6), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]          # no temporary file left behind
    with pytest.raises(OSError):
        nets.save(model(), tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_overwrite_keeps_the_file_mode(tmp_path):
    path = saved(tmp_path)
    os.chmod(path, 0o600)
    nets.save(model(out=6), path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert nets.load(path)["0.weight"].shape == (6, 3)


@pytest.mark.parametrize("cut, reason", [
    (4, "only 4 bytes"),
    (40, "header length field says"),
    (-10, "truncated: the tensors need"),
])
def test_truncated_file_is_named_with_the_reason(tmp_path, cut, reason):
    path = saved(tmp_path)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(nets.CheckpointError) as err:
        nets.load(path)
    assert str(path) in str(err.value) and reason in str(err.value)


def test_flipped_data_byte_fails_the_checksum(tmp_path):
    path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(nets.CheckpointError, match="does not match the checksum"):
        nets.load(path)


def test_trailing_bytes_are_refused(tmp_path):
    path = saved(tmp_path)
    path.write_bytes(path.read_bytes() + b"\0" * 3)
    with pytest.raises(nets.CheckpointError, match="3 unexpected bytes"):
        nets.load(path)


@pytest.mark.parametrize("kind", ["garbage", "npz", "pickle", "json_list", "bad_entry"])
def test_files_that_are_not_safetensors(tmp_path, kind):
    path = tmp_path / ("x." + kind)
    if kind == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(300))
    elif kind == "npz":
        with open(path, "wb") as f:
            np.savez(f, w=np.zeros(3))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    else:
        header = b"[1, 2]" if kind == "json_list" else b'{"w": {"dtype": "F32"}}'
        path.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(nets.CheckpointError) as err:
        nets.load(path)
    assert str(path) in str(err.value) and "safetensors" in str(err.value)


def test_file_that_does_not_fit_the_module_changes_nothing(tmp_path):
    path = saved(tmp_path)
    other = model(out=5)
    before = other.state_dict()
    with pytest.raises(nets.StateDictError) as err:
        nets.load(path, into=other)
    msg = str(err.value)
    assert str(path) in msg
    assert "0.weight: shape (4, 3) in the state dict, (5, 3) in the module" in msg
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(nets.StateDictError, match="missing keys: 2.weight"):
        nets.load(path, into=nets.Sequential(*model(), nets.Linear(1, 1, bias=False)))


def test_zero_d_entries_keep_their_shape(tmp_path):
    class Scaled(nets.Module):
        def __init__(self):
            super().__init__()
            self.scale = nets.Parameter(np.array(1.5))
            self.linear = nets.Linear(2, 2)
    path = tmp_path / "m.safetensors"
    a = Scaled()
    nets.save(a.state_dict(), path)
    assert nets.load(path)["scale"].shape == ()
    b = Scaled()
    nets.load(path, into=b)
    assert b.scale.shape == () and b.scale.data == 1.5
    nets.save({"step": np.int64(7), "loss": ag.tensor(0.25), "w": np.ones((3, 3))[:, 1]}, path)
    state = nets.load(path)
    assert state["step"].shape == state["loss"].shape == () and state["w"].shape == (3,)
    assert state["step"] == 7 and state["loss"] == 0.25
