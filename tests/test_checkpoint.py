"""nets.save / nets.load: safetensors round trips, atomic writes, and clear errors for files that
are truncated, corrupt, not safetensors, or do not fit the module."""
import os
import json
import math
import pickle
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings, strategies as st

import autograph as ag
import nets
from nets import checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def test_files_written_by_safetensors_load_as_its_own_reader_reads_them(tmp_path):
    arrays = {"f16": np.arange(6, dtype=np.float16).reshape(2, 3), "scalar": np.array(2.5),
              "empty": np.zeros((0, 4), np.float32), "i8": np.arange(-3, 3, dtype=np.int8),
              "u64": np.array([2 ** 64 - 1], np.uint64), "mask": np.array([True, False]),
              "c64": np.array([1 + 2j], np.complex64)}
    path = tmp_path / "other.safetensors"
    safetensors.numpy.save_file(arrays, str(path))
    state = nets.load(path)
    reference = safetensors.numpy.load(path.read_bytes())
    assert sorted(state) == sorted(arrays)
    for k, v in reference.items():
        assert state[k].dtype == v.dtype and state[k].shape == v.shape, k
        np.testing.assert_array_equal(state[k], v, err_msg=k)
        assert state[k].flags.writeable
    state["f16"][0, 0] = 9                                  # the arrays do not share bytes
    assert state["scalar"] == 2.5 and list(state["i8"]) == [-3, -2, -1, 0, 1, 2]


# -- files that are not regular, and bounded reads ------------------------------------------
NOT_A_FILE = r'''
import os, resource, socket, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))   # an unbounded read fails fast
import nets
folder = sys.argv[1]
os.symlink("/dev/zero", os.path.join(folder, "zero.safetensors"))
os.mkfifo(os.path.join(folder, "fifo.safetensors"))
os.mkdir(os.path.join(folder, "dir.safetensors"))
sock = socket.socket(socket.AF_UNIX)
sock.bind(os.path.join(folder, "sock.safetensors"))
for name in ["zero", "fifo", "dir", "sock"]:
    try:
        nets.load(os.path.join(folder, name + ".safetensors"))
    except nets.CheckpointError as err:
        print(err)
'''


def test_what_is_not_a_regular_file_is_refused_without_reading_it(tmp_path):
    # in a child process with a memory limit and a timeout: reading /dev/zero to its end, or
    # opening a FIFO that nobody writes, would otherwise take the test run down with it
    out = subprocess.run([sys.executable, "-c", NOT_A_FILE, str(tmp_path)], timeout=60,
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == [
        "%s/zero.safetensors: it is a character device, not a checkpoint file" % tmp_path,
        "%s/fifo.safetensors: it is a FIFO (named pipe), not a checkpoint file" % tmp_path,
        "%s/dir.safetensors: it is a directory, not a checkpoint file" % tmp_path,
        "%s/sock.safetensors: it is a socket, not a checkpoint file" % tmp_path]


def peak_bytes_while(f):
    """The most memory Python held at once while ``f()`` ran (what it read, above all)."""
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reads_only_what_the_header_declares(tmp_path):
    path = saved(tmp_path)
    with open(path, "r+b") as f:               # 64 MB of trailing bytes, a sparse file
        f.truncate(os.path.getsize(path) + (64 << 20))

    def load():
        with pytest.raises(nets.CheckpointError, match="%d unexpected bytes" % (64 << 20)):
            nets.load(path)
    assert peak_bytes_while(load) < 1 << 20


def test_a_header_length_beyond_the_format_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.safetensors"
    n = checkpoint.MAX_HEADER_BYTES + 1
    with open(path, "wb") as f:
        f.write(n.to_bytes(8, "little"))
        f.truncate(8 + n)

    def load():
        with pytest.raises(nets.CheckpointError, match="more than the 100000000 a safetensors "
                                                       "header may have"):
            nets.load(path)
    assert peak_bytes_while(load) < 1 << 20


# -- malformed headers ------------------------------------------------------------------------
def write_raw(path, header, data=b""):
    """A file with this header (text or a dict) and data region, as safetensors lays them out."""
    text = header.encode("utf-8") if isinstance(header, str) else \
        header if isinstance(header, bytes) else json.dumps(header).encode("utf-8")
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


def f32(offsets=(0, 4), shape=(1,), dtype="F32"):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


DEEP = "[" * 100_000 + "]" * 100_000
MALFORMED = [
    ({"__metadata__": "sha256"}, b"", '__metadata__ is "sha256", not an object of strings'),
    ({"w": f32(), "__metadata__": {"sha256": 5}}, b"1234", '__metadata__["sha256"] is 5, not a '
                                                           'string'),
    ({"w": f32(), "__metadata__": [1]}, b"1234", "__metadata__ is [1], not an object"),
    ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, Infinity]}}', b"1234",
     "Infinity is not a JSON number"),
    ('{"w": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 4]}}', b"1234",
     "NaN is not a JSON number"),
    (DEEP, b"", "nested too deeply"),
    ('{"w": %s}' % DEEP, b"", "nested too deeply"),
    ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, %s]}}' % ("9" * 5000), b"1234",
     "the header is not valid JSON"),
    ('{"w": %s, "w": %s}' % (json.dumps(f32()), json.dumps(f32())), b"1234",
     'the name "w" appears twice'),
    (b'{"w": "\xff"}', b"", "not UTF-8"),
    ([1, 2], b"", "the header is [1, 2], not a JSON object"),
    ({"w": 5}, b"", 'tensor "w" is 5, not an object with dtype, shape and data_offsets'),
    ({"w": {"dtype": "F32", "shape": [1]}}, b"1234", 'tensor "w" has no data_offsets'),
    ({"w": f32(dtype="X32")}, b"1234", 'tensor "w" has dtype "X32"; numpy holds only BOOL'),
    ({"w": f32(dtype="BF16")}, b"1234", 'tensor "w" has dtype "BF16"; numpy holds only'),
    ({"w": f32(dtype=["F32"])}, b"1234", 'tensor "w" has dtype ["F32"]; numpy holds'),
    ({"w": f32(shape=[1.0])}, b"1234", 'has shape [1.0], not a list of integers >= 0'),
    ({"w": f32(shape=[True])}, b"1234", 'has shape [true], not a list of integers'),
    ({"w": {**f32(), "shape": "1"}}, b"1234", 'has shape "1", not a list of integers'),
    ({"w": f32(shape=[-1, -1])}, b"1234", "has shape [-1, -1], not a list of integers"),
    ({"w": f32(shape=[[1]])}, b"1234", "has shape a list of 1 items with lists or objects"),
    ({"w": f32(offsets=[0, 4.0])}, b"1234", "has data_offsets [0, 4.0], not two integers"),
    ({"w": f32(offsets=[4, 0])}, b"1234", "has data_offsets [4, 0], not two integers 0 <= "
                                          "begin <= end"),
    ({"w": f32(offsets=[-4, 0])}, b"1234", "has data_offsets [-4, 0], not two integers"),
    ({"w": f32(offsets=[0, 4, 8])}, b"1234", "has data_offsets [0, 4, 8], not two"),
    ({"w": f32(shape=[2])}, b"1234", 'tensor "w": F32 of shape (2,) takes 8 bytes, but its '
                                     'data_offsets [0, 4] span 4'),
    ({"w": f32(), "v": f32((2, 6))}, b"12345678", 'tensor "v" starts at data byte 2, inside '
                                                  'tensor "w", which ends at 4'),
    ({"w": f32(), "v": f32((0, 4))}, b"12345678", 'tensor "w" starts at data byte 0, inside '
                                                  'tensor "v"'),
    ({"w": f32(), "v": f32((8, 12))}, b"123456781234", 'tensor "v" starts at data byte 8, but '
                                                       'the tensors before it end at 4 (a gap'),
    ({"w": f32(shape=[1] * 65)}, b"1234", 'tensor "w" cannot be a numpy array'),
    ({"w": f32((0, 1), [1], "BOOL")}, b"\x02", 'tensor "w" is BOOL but holds bytes other than'),
    ({"w": f32(), "__metadata__": {"order": "[1]"}}, b"1234",
     '__metadata__["order"] is not a JSON list of the tensor names'),
    ({"w": f32(), "__metadata__": {"order": '["w", "w"]'}}, b"1234",
     '__metadata__["order"] is not a JSON list'),
    ({"w": f32(), "__metadata__": {"order": DEEP}}, b"1234",
     '__metadata__["order"] is not a JSON list'),
]


@pytest.mark.parametrize("header, data, reason", MALFORMED,
                         ids=["malformed%d" % i for i in range(len(MALFORMED))])
def test_a_malformed_header_is_named_with_what_is_wrong(tmp_path, header, data, reason):
    path = write_raw(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(nets.CheckpointError) as err:
        nets.load(path)
    assert str(err.value).startswith(str(path) + ": ")
    assert reason in str(err.value), str(err.value)


# -- any header, mutated at random: a CheckpointError or what safetensors' own reader reads ---
DTYPE_CHOICES = ["float32", "float64", "float16", "int64", "int32", "uint8", "int8", "bool"]
# JSON text that a mutation puts in place of a value
ODD_JSON = ["Infinity", "-Infinity", "NaN", "1e400", "-0", "9" * 5000, DEEP,
            '{"a":' * 50_000 + "1" + "}" * 50_000, "[]", "{}", "null", '"[]"', '["t0"]']
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2 ** 65) | st.floats(allow_nan=False)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=6)
dtype_names = st.sampled_from(list(checkpoint.DTYPES) + ["BF16", "F8_E4M3"])
snippets = st.one_of(json_values.map(json.dumps), st.sampled_from(ODD_JSON),
                     st.integers(-2, 40).map(str), dtype_names.map(json.dumps))
names = st.sampled_from(["dtype", "shape", "data_offsets", "__metadata__", "sha256", "order",
                         "t0", "t1", "x"])


@st.composite
def checkpoint_files(draw):
    """The bytes nets.save writes for a few small arrays."""
    arrays = {}
    for i in range(draw(st.integers(1, 3))):
        shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
        dtype = draw(st.sampled_from(DTYPE_CHOICES))
        arrays["t%d" % i] = (np.arange(math.prod(shape)) % 3).astype(dtype).reshape(shape)
    meta = draw(st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))
    return checkpoint._contents(arrays, meta)


def containers(value):
    """Every list and object inside ``value`` (walked without recursion)."""
    out, todo = [], [value]
    while todo:
        node = todo.pop()
        if isinstance(node, (list, dict)):
            out.append(node)
            todo.extend(node.values() if isinstance(node, dict) else node)
    return out


@st.composite
def mutated(draw, blob):
    """``blob`` with its header changed: values replaced by odd JSON, keys added or removed,
    characters overwritten, or the length field moved."""
    n = int.from_bytes(blob[:8], "little")
    header, data = json.loads(blob[8:8 + n]), blob[8 + n:]
    snippets_used = []
    for _ in range(draw(st.integers(1, 2))):
        node = draw(st.sampled_from(containers(header)))
        how = draw(st.sampled_from(["replace", "delete", "insert"]))
        marker = "@@mutant%d@@" % len(snippets_used)
        if isinstance(node, dict):
            key = draw(st.sampled_from(sorted(node)) if node and how != "insert" else names)
            if how == "delete":
                node.pop(key, None)
                continue
        else:
            key = draw(st.integers(0, len(node))) if node else 0
            if how == "delete" and key < len(node):
                del node[key]
                continue
            if key == len(node) or how == "insert":
                node.insert(key, None)
        node[key] = marker
        snippets_used.append(draw(snippets))
    text = json.dumps(header)
    for i, snippet in enumerate(snippets_used):
        text = text.replace('"@@mutant%d@@"' % i, snippet)
    raw = bytearray(text.encode("utf-8"))
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw[at:at + 1] = draw(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b",", b":", b"0",
                                               b"9", b"-", b" ", b"\\", b"\xff", b""]))
    length = len(raw) + draw(st.sampled_from([0] * 12 + [-1, 1, 8, -8]))
    return max(length, 0).to_bytes(8, "little") + bytes(raw) + data


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_mutated_header_loads_as_the_reference_reads_it_or_gives_a_checkpoint_error(
        tmp_path_factory, data):
    blob = data.draw(mutated(data.draw(checkpoint_files())))
    path = tmp_path_factory.getbasetemp() / "mutant.safetensors"
    path.write_bytes(blob)
    try:
        ours = nets.load(path)
    except nets.CheckpointError:
        return
    reference = safetensors.numpy.load(blob)     # what we load, the format's reader must read
    assert sorted(ours) == sorted(reference)
    for k, v in reference.items():
        assert ours[k].dtype == v.dtype and ours[k].shape == v.shape, k
        assert ours[k].tobytes() == v.tobytes(), k
