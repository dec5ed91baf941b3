"""GGUF files written by the Python `gguf` package (random data, every supported tensor
type, every metadata value type, nested arrays, custom alignment, version 2) read back
through radixserve-model: metadata exactly, float types bit-exact, quantized types equal
to gguf.quants.dequantize."""
import struct

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V
from gguf import quants

from model_cli import dump, inspect, inspect_error, require_cli

RNG = np.random.default_rng(1234)

SCALARS = [  # (value type, our JSON type name, random value maker)
    (V.UINT8, "uint8", lambda: int(RNG.integers(0, 2**8))),
    (V.INT8, "int8", lambda: int(RNG.integers(-2**7, 2**7))),
    (V.UINT16, "uint16", lambda: int(RNG.integers(0, 2**16))),
    (V.INT16, "int16", lambda: int(RNG.integers(-2**15, 2**15))),
    (V.UINT32, "uint32", lambda: int(RNG.integers(0, 2**32))),
    (V.INT32, "int32", lambda: int(RNG.integers(-2**31, 2**31))),
    (V.UINT64, "uint64", lambda: int(RNG.integers(0, 2**64, dtype=np.uint64))),
    (V.INT64, "int64", lambda: int(RNG.integers(-2**63, 2**63, dtype=np.int64))),
    (V.FLOAT32, "float32", lambda: float(np.float32(RNG.normal() * 1e3))),
    (V.FLOAT64, "float64", lambda: float(RNG.normal() * 1e-3)),
    (V.BOOL, "bool", lambda: bool(RNG.integers(0, 2))),
    (V.STRING, "string", lambda: random_string()),
]


def random_string():
    alphabet = ["a", "Z", " ", "\n", "é", "漢", "🦙", "\"", "\\", "\t", "<|im_end|>"]
    return "".join(RNG.choice(alphabet, size=int(RNG.integers(0, 12))))


def expected_scalar(vtype, value):
    return float(np.float32(value)) if vtype == V.FLOAT32 else value


def add_metadata(w):
    """Adds one key per scalar type and one array per element type; returns expectations
    in the CLI's JSON form."""
    expect = {}
    for vtype, name, make in SCALARS:
        v = make()
        w.add_key_value(f"test.scalar.{name}", v, vtype)
        expect[f"test.scalar.{name}"] = {"type": name, "value": expected_scalar(vtype, v)}
        values = [make() for _ in range(int(RNG.integers(1, 40)))]
        w.add_key_value(f"test.array.{name}", values, V.ARRAY, sub_type=vtype)
        expect[f"test.array.{name}"] = {
            "type": "array", "element_type": name, "count": len(values),
            "value": [expected_scalar(vtype, x) for x in values]}
    # Nested arrays: the writer infers inner types (int -> int32, float -> float32).
    nested = [[1, -2, 3], [4], [5, 6]]
    w.add_key_value("test.nested.ints", nested, V.ARRAY)
    expect["test.nested.ints"] = {
        "type": "array", "element_type": "array", "count": 3,
        "value": [{"type": "array", "element_type": "int32", "count": len(x), "value": x}
                  for x in nested]}
    strs = [["a", "bc"], ["", "漢字"]]
    w.add_key_value("test.nested.strings", strs, V.ARRAY)
    expect["test.nested.strings"] = {
        "type": "array", "element_type": "array", "count": 2,
        "value": [{"type": "array", "element_type": "string", "count": 2, "value": x}
                  for x in strs]}
    deep = [[[0.5, 1.5]], [[2.5]]]
    w.add_key_value("test.nested.deep", deep, V.ARRAY)
    expect["test.nested.deep"] = {
        "type": "array", "element_type": "array", "count": 2,
        "value": [{"type": "array", "element_type": "array", "count": 1,
                   "value": [{"type": "array", "element_type": "float32", "count": len(x[0]),
                              "value": x[0]}]} for x in deep]}
    return expect


SHAPES = [(64,), (3, 32), (2, 3, 64), (5, 96)]
TYPES = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1]


def random_tensor(shape):
    x = (RNG.normal(size=shape) * RNG.choice([1e-3, 1.0, 50.0])).astype(np.float32)
    flat = x.reshape(-1)
    flat[:3] = [0.0, -0.0, flat[3]]  # exact zeros and a repeated value per tensor
    return x


def write_gguf(path, alignment=None):
    w = gguf.GGUFWriter(str(path), "llama")
    if alignment is not None:
        w.add_custom_alignment(alignment)
    meta = add_metadata(w)
    tensors = {}
    for qtype in TYPES:
        for i, shape in enumerate(SHAPES):
            name = f"t.{qtype.name}.{i}"
            x = random_tensor(shape)
            if qtype == Q.F32:
                w.add_tensor(name, x)
                want = x
            elif qtype == Q.F16:
                w.add_tensor(name, x.astype(np.float16))
                want = x.astype(np.float16).astype(np.float32)
            else:
                q = quants.quantize(x, qtype)
                w.add_tensor(name, q, raw_dtype=qtype)
                want = quants.dequantize(q, qtype)
            tensors[name] = (qtype, shape, want.astype(np.float32).reshape(-1))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return meta, tensors


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    require_cli()
    d = tmp_path_factory.mktemp("gguf")
    meta, tensors = write_gguf(d / "all.gguf")
    return d / "all.gguf", meta, tensors


def test_metadata_matches_exactly(written):
    path, meta, _ = written
    j = inspect(path, "--full")
    assert j["format"] == "gguf" and j["version"] == 3
    for key, want in meta.items():
        assert j["metadata"][key] == want, key
    assert j["metadata"]["general.architecture"] == {"type": "string", "value": "llama"}


def test_tensor_infos(written):
    path, _, tensors = written
    j = inspect(path)
    got = {t["name"]: t for t in j["tensors"]}
    assert set(got) == set(tensors)
    for name, (qtype, shape, _) in tensors.items():
        assert got[name]["type"] == qtype.name
        assert got[name]["shape"] == list(reversed(shape))  # GGML order
        assert got[name]["offset"] % 32 == 0


def test_tensor_values(written, tmp_path):
    path, _, tensors = written
    for name, (qtype, shape, want) in tensors.items():
        got, header = dump(path, name, tmp_path)
        assert header["shape"] == list(reversed(shape))
        # Bit-exact for every type (quantized: equal to gguf.quants.dequantize).
        assert got.tobytes() == want.tobytes(), (name, np.abs(got - want).max())


def test_summarised_arrays(written):
    path, _, _ = written
    j = inspect(path)
    arr = j["metadata"]["test.array.uint32"]
    assert len(arr["value"]) <= 8
    if arr["count"] > 8:
        assert arr["truncated"] is True


def test_custom_alignment(tmp_path):
    require_cli()
    path = tmp_path / "aligned.gguf"
    _, tensors = write_gguf(path, alignment=256)
    j = inspect(path)
    assert j["alignment"] == 256
    assert j["data_offset"] % 256 == 0
    assert all(t["offset"] % 256 == 0 for t in j["tensors"])
    name = "t.Q4_1.3"
    got, _ = dump(path, name, tmp_path)
    assert got.tobytes() == tensors[name][2].tobytes()


def test_version_2_reads_like_version_3(written, tmp_path):
    """The package only writes v3. For little-endian files v2 and v3 are byte-identical
    apart from the version field (v3 only added big-endian files; v1 had 32-bit counts),
    so a v2 file is the v3 file with the version patched."""
    path, meta, tensors = written
    data = bytearray(path.read_bytes())
    assert struct.unpack_from("<I", data, 4)[0] == 3
    struct.pack_into("<I", data, 4, 2)
    v2 = tmp_path / "v2.gguf"
    v2.write_bytes(bytes(data))
    j = inspect(v2, "--full")
    assert j["version"] == 2
    for key, want in meta.items():
        assert j["metadata"][key] == want
    name = "t.Q8_0.2"
    got, _ = dump(v2, name, tmp_path)
    assert got.tobytes() == tensors[name][2].tobytes()
    # v1 (32-bit counts) and big-endian files are refused with a clear message.
    struct.pack_into("<I", data, 4, 1)
    v2.write_bytes(bytes(data))
    assert "unsupported version 1" in inspect_error(v2)
    struct.pack_into(">I", data, 4, 3)
    v2.write_bytes(bytes(data))
    assert "big-endian" in inspect_error(v2)


def test_truncated_file_is_an_error_not_a_crash(written, tmp_path):
    path, _, _ = written
    data = path.read_bytes()
    j = inspect(path)
    last = max(t["offset"] for t in j["tensors"]) + j["data_offset"]
    cut = tmp_path / "cut.gguf"
    # Trailing padding after the last tensor may go; anything inside it may not.
    for n in [0, 3, 10, 30, len(data) // 3, j["data_offset"] - 1, last + 1]:
        cut.write_bytes(data[:n])
        err = inspect_error(cut)
        assert "truncated" in err or "outside" in err or "cannot fit" in err, (n, err)
