"""safetensors files written by the Python `safetensors` package read back through
radixserve-model, and the canonical ModelSource description: an HF directory and the GGUF
a llama.cpp-style conversion makes from it (Q/K rows permuted for llama) must describe the
same tensors, bit for bit."""
import json
import math
import struct

import gguf
import numpy as np
import pytest
from safetensors.numpy import save_file

from model_cli import dump, inspect, inspect_error, require_cli

RNG = np.random.default_rng(99)


@pytest.fixture(autouse=True)
def _cli():
    require_cli()


def bf16_file(path, name, values_f32):
    """safetensors.numpy cannot write BF16 without ml_dtypes; the format is simple enough to
    write directly: u64 header length, JSON header, data."""
    bits = (values_f32.view(np.uint32) >> 16).astype(np.uint16)
    header = json.dumps({name: {"dtype": "BF16", "shape": list(values_f32.shape),
                                "data_offsets": [0, bits.nbytes]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bits.tobytes())
    return (bits.astype(np.uint32) << 16).view(np.float32)


def test_safetensors_roundtrip(tmp_path):
    a = RNG.normal(size=(3, 5)).astype(np.float32)
    b = RNG.normal(size=(7,)).astype(np.float16)
    c = np.arange(4, dtype=np.int64).reshape(2, 2)
    e = np.zeros((0, 4), dtype=np.float32)
    path = tmp_path / "x.safetensors"
    save_file({"a": a, "b": b, "c": c, "e": e}, str(path), metadata={"format": "np", "k": "v"})
    j = inspect(path)
    assert j["format"] == "safetensors" and j["shards"] == 1
    assert j["metadata"] == {"format": "np", "k": "v"}
    got = {t["name"]: t for t in j["tensors"]}
    assert got["a"]["type"] == "F32" and got["a"]["shape"] == [3, 5]
    assert got["b"]["type"] == "F16" and got["b"]["shape"] == [7]
    assert got["c"]["type"] == "I64"
    assert got["e"]["shape"] == [0, 4]
    x, _ = dump(path, "a", tmp_path)
    assert x.tobytes() == a.reshape(-1).tobytes()
    x, _ = dump(path, "b", tmp_path)
    assert x.tobytes() == b.astype(np.float32).tobytes()
    # Unsupported dtypes are reported by name.
    out = tmp_path / "o.bin"
    import subprocess
    from model_cli import CLI
    res = subprocess.run([str(CLI), "dump-tensor", str(path), "c", "-o", str(out)],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "I64" in res.stderr and "UNIMPLEMENTED" in res.stderr


def test_bf16(tmp_path):
    v = RNG.normal(size=(4, 8)).astype(np.float32)
    v[0, :4] = [0.0, -0.0, np.inf, 1e-40]
    path = tmp_path / "bf16.safetensors"
    want = bf16_file(path, "w", v)
    x, header = dump(path, "w", tmp_path)
    assert header["type"] == "BF16"
    assert x.tobytes() == want.reshape(-1).tobytes()


def test_sharded_checkpoint(tmp_path):
    t = {f"t{i}": RNG.normal(size=(2, i + 1)).astype(np.float32) for i in range(5)}
    save_file({k: t[k] for k in ["t0", "t1"]}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({k: t[k] for k in ["t2", "t3", "t4"]},
              str(tmp_path / "model-00002-of-00002.safetensors"))
    index = {"metadata": {"total_size": 0},
             "weight_map": {k: ("model-00001-of-00002.safetensors" if k in ("t0", "t1")
                                else "model-00002-of-00002.safetensors") for k in t}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    j = inspect(tmp_path)
    assert j["shards"] == 2
    assert sorted(x["name"] for x in j["tensors"]) == sorted(t)
    for k, v in t.items():
        x, _ = dump(tmp_path, k, tmp_path)
        assert x.tobytes() == v.reshape(-1).tobytes()
    # An index naming a tensor its shard lacks, or escaping the directory, is refused.
    index["weight_map"]["t9"] = "model-00001-of-00002.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert "does not contain" in inspect_error(tmp_path)
    del index["weight_map"]["t9"]
    index["weight_map"]["t0"] = "../model-00001-of-00002.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    assert "plain file name" in inspect_error(tmp_path)


# ---------------------------------------------------------------------------------------
# HF directory vs GGUF: the canonical description
# ---------------------------------------------------------------------------------------

def llama_cpp_permute(w, n_head):
    """What llama.cpp's convert_hf_to_gguf.py does to llama q_proj/k_proj rows (re-derived
    here independently of the C++): per head, rows [2, D/2] -> [D/2, 2]."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


HF_TO_GGUF = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def make_model(d, arch, tie, rope_scaling=None, shards=1):
    hidden, heads, kv, hd, inter, vocab, layers = 64, 4, 2, 16, 96, 40, 2
    cfg = {"architectures": ["X"], "model_type": arch, "vocab_size": vocab,
           "hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "max_position_embeddings": 256,
           "tie_word_embeddings": tie, "bos_token_id": 1, "eos_token_id": 2}
    if rope_scaling:
        cfg["rope_scaling"] = rope_scaling
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": [2, 3]}))
    w = {"model.embed_tokens.weight": (vocab, hidden), "model.norm.weight": (hidden,)}
    if not tie:
        w["lm_head.weight"] = (vocab, hidden)
    for i in range(layers):
        p = f"model.layers.{i}."
        w.update({p + "input_layernorm.weight": (hidden,),
                  p + "self_attn.q_proj.weight": (heads * hd, hidden),
                  p + "self_attn.k_proj.weight": (kv * hd, hidden),
                  p + "self_attn.v_proj.weight": (kv * hd, hidden),
                  p + "self_attn.o_proj.weight": (hidden, heads * hd),
                  p + "post_attention_layernorm.weight": (hidden,),
                  p + "mlp.gate_proj.weight": (inter, hidden),
                  p + "mlp.up_proj.weight": (inter, hidden),
                  p + "mlp.down_proj.weight": (hidden, inter)})
        if arch == "qwen2":
            w.update({p + "self_attn.q_proj.bias": (heads * hd,),
                      p + "self_attn.k_proj.bias": (kv * hd,),
                      p + "self_attn.v_proj.bias": (kv * hd,)})
    w = {k: RNG.normal(size=s).astype(np.float32) for k, s in w.items()}
    names = sorted(w)
    if shards == 1:
        save_file(w, str(d / "model.safetensors"))
    else:
        half = len(names) // 2
        parts = {"a.safetensors": names[:half], "b.safetensors": names[half:]}
        for f, ns in parts.items():
            save_file({n: w[n] for n in ns}, str(d / f))
        (d / "model.safetensors.index.json").write_text(json.dumps(
            {"weight_map": {n: f for f, ns in parts.items() for n in ns}}))

    # The GGUF a llama.cpp conversion produces from the same weights.
    # llama.cpp converts Mistral checkpoints to the "llama" architecture.
    gw = gguf.GGUFWriter(str(d / "model.gguf"), "qwen2" if arch == "qwen2" else "llama")
    gw.add_block_count(layers)
    gw.add_context_length(256)
    gw.add_embedding_length(hidden)
    gw.add_feed_forward_length(inter)
    gw.add_head_count(heads)
    gw.add_head_count_kv(kv)
    gw.add_rope_freq_base(10000.0)
    gw.add_layer_norm_rms_eps(1e-5)
    gw.add_rope_dimension_count(hd)
    gw.add_uint32("tokenizer.ggml.bos_token_id", 1)
    gw.add_uint32("tokenizer.ggml.eos_token_id", 2)
    gw.add_uint32("tokenizer.ggml.eot_token_id", 3)
    for name, x in w.items():
        if name == "model.embed_tokens.weight":
            g = "token_embd.weight"
        elif name == "model.norm.weight":
            g = "output_norm.weight"
        elif name == "lm_head.weight":
            g = "output.weight"
        else:
            parts = name.split(".")
            g = f"blk.{parts[2]}." + HF_TO_GGUF[".".join(parts[3:])]
        if arch != "qwen2" and g.endswith(("attn_q.weight", "attn_q.bias")):
            x = llama_cpp_permute(x, heads)
        if arch != "qwen2" and g.endswith(("attn_k.weight", "attn_k.bias")):
            x = llama_cpp_permute(x, kv)
        gw.add_tensor(g, x)
    if rope_scaling:
        gw.add_tensor("rope_freqs.weight", llama3_factors(cfg, hd))
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()
    return cfg, w


def llama3_factors(cfg, hd):
    """rope_freqs.weight as llama.cpp's converter computes it for Llama 3.1."""
    rs = cfg["rope_scaling"]
    freqs = 1.0 / (cfg["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float32) / hd))
    old = rs["original_max_position_embeddings"]
    lo_wl, hi_wl = old / rs["low_freq_factor"], old / rs["high_freq_factor"]
    out = []
    for f in freqs:
        wl = 2 * math.pi / float(f)
        if wl < hi_wl:
            out.append(1.0)
        elif wl > lo_wl:
            out.append(rs["factor"])
        else:
            s = (old / wl - rs["low_freq_factor"]) / (rs["high_freq_factor"] - rs["low_freq_factor"])
            out.append(1.0 / ((1 - s) / rs["factor"] + s))
    return np.array(out, dtype=np.float32)


@pytest.mark.parametrize("arch,tie,shards,scaling", [
    ("llama", True, 1, None),
    ("llama", False, 2, None),
    ("mistral", False, 1, None),
    ("qwen2", True, 1, None),
    ("llama", True, 1, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                        "high_freq_factor": 4.0, "original_max_position_embeddings": 32}),
])
def test_hf_and_gguf_describe_the_same_model(tmp_path, arch, tie, shards, scaling):
    cfg, weights = make_model(tmp_path, arch, tie, scaling, shards)
    hf = inspect(tmp_path, "--canonical")
    gg = inspect(tmp_path / "model.gguf", "--canonical")
    assert hf["format"] == "safetensors" and gg["format"] == "gguf"
    hc, gc = hf["config"], gg["config"]
    assert hc["arch"] == arch
    for key in ["vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads",
                "num_kv_heads", "head_dim", "rope_theta", "max_position_embeddings",
                "tie_word_embeddings", "attention_bias", "bos_token_id", "eos_token_ids"]:
        assert hc[key] == gc[key], key
    assert hc["eos_token_ids"] == [2, 3]
    assert hc["attention_bias"] == (arch == "qwen2")
    assert math.isclose(hc["rms_norm_eps"], gc["rms_norm_eps"], rel_tol=1e-6)
    if scaling:
        assert hc["rope_scaling"]["type"] == gc["rope_scaling"]["type"] == "llama3"
    ht = {t["name"]: t for t in hf["tensors"]}
    gt = {t["name"]: t for t in gg["tensors"]}
    assert set(ht) == set(gt)
    for name in ht:
        assert ht[name]["shape"] == gt[name]["shape"], name
        a, _ = dump(tmp_path, name, tmp_path, canonical=True)
        b, _ = dump(tmp_path / "model.gguf", name, tmp_path, canonical=True)
        if name == "rope_freqs.weight":  # float32 pow in numpy vs libm: allow an ulp
            np.testing.assert_allclose(a, b, rtol=1e-6)
        else:
            assert a.tobytes() == b.tobytes(), name
    # And the permutation is the documented one: canonical row (h, 2i+j) = HF row (h, j*D/2+i).
    if arch != "qwen2":
        q_hf = weights["model.layers.0.self_attn.q_proj.weight"]
        q, _ = dump(tmp_path, "blk.0.attn_q.weight", tmp_path, canonical=True)
        q = q.reshape(q_hf.shape)
        D = cfg["hidden_size"] // cfg["num_attention_heads"]
        for h in range(cfg["num_attention_heads"]):
            for i in range(D // 2):
                for j in range(2):
                    assert (q[h * D + 2 * i + j] == q_hf[h * D + j * D // 2 + i]).all()


def test_missing_and_unknown_tensors_are_errors(tmp_path):
    make_model(tmp_path, "llama", True)
    from safetensors.numpy import load_file
    w = load_file(str(tmp_path / "model.safetensors"))
    del w["model.layers.1.mlp.up_proj.weight"]
    save_file(w, str(tmp_path / "model.safetensors"))
    assert "missing tensor 'blk.1.ffn_up.weight'" in inspect_error(tmp_path, "--canonical")
    w["model.layers.1.mlp.up_proj.weight"] = np.zeros((96, 64), np.float32)
    w["model.layers.0.mlp.extra.weight"] = np.zeros((2,), np.float32)
    save_file(w, str(tmp_path / "model.safetensors"))
    assert "not a known llama parameter" in inspect_error(tmp_path, "--canonical")
    del w["model.layers.0.mlp.extra.weight"]
    w["model.norm.weight"] = np.zeros((63,), np.float32)
    save_file(w, str(tmp_path / "model.safetensors"))
    assert "output_norm.weight' has shape {63}" in inspect_error(tmp_path, "--canonical")
