#!/usr/bin/env python3
"""Build the small random Llama-family model fixtures and their golden outputs.

What it makes (under tests/fixtures/models/<name>/, see tests/fixtures/models/README.md):
  config.json, generation_config.json, model.safetensors   Hugging Face directory (float32)
  model-f32.gguf, model-f16.gguf, model-q8_0.gguf, model-q4_1.gguf
                                                           the same weights as llama.cpp's
                                                           convert_hf_to_gguf.py would write them
  golden.safetensors, golden.json                          reference logits / greedy tokens from
                                                           Hugging Face transformers (eager, fp32)

Stages (default: all):
  weights  numpy + safetensors + gguf only: random weights (numpy, fixed seed), HF dir, GGUFs.
  golden   torch + transformers (+ gguf): logits of every position for fixed prompts, for the
           F32 weights and for each GGUF type's weights dequantized back (gguf.quants.dequantize,
           Q/K rows un-permuted), greedy continuations, relative errors.
  check    numpy only: an independent forward over the GGUF tensors done llama.cpp's way
           (adjacent-pair RoPE on permuted Q/K, NEOX for qwen2, rope_freqs), must match the
           golden logits (rel < 1e-5); also emulates int8 activation quantization (Q8_0/Q8_1
           blocks of 32, as ggml's integer dot products) and an F16 KV cache, to estimate the
           error such an engine has against the same-weights golden -> numpy_check.json

Needs: python3 with numpy, safetensors, gguf (weights); plus torch and transformers (golden).
Run:   python3 scripts/make_model_fixtures.py                  # everything
       python3 scripts/make_model_fixtures.py --stage weights  # no torch needed
       python3 scripts/make_model_fixtures.py --stage golden   # needs torch + transformers
Deterministic: weights come from numpy's PCG64 with fixed seeds, GGUF writing is byte-stable,
golden logits are computed on the CPU in float32 with eager attention, one thread.
The golden stage was run with torch 2.11 / transformers 5.x on the CPU of the GPU machine
(no torch on the 2-core dev machines).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "models"

def dump_json(obj) -> str:
    """json with lists of numbers kept on one line (small, still readable)."""
    import re
    s = json.dumps(obj, indent=1, ensure_ascii=False)
    return re.sub(r"\[\s*([-+\d.eE,\s]*?)\s*\]",
                  lambda m: "[" + re.sub(r"\s+", "", m.group(1)).replace(",", ", ") + "]", s) + "\n"


# --------------------------------------------------------------------------------------
# Model specs
# --------------------------------------------------------------------------------------
# All 2-D weight rows (the "in" dimension) are multiples of 32 so every matrix can be
# block-quantized (Q8_0 / Q4_1 blocks are 32 wide).
SPECS = {
    "llama-gqa-tied": dict(
        arch="llama", hf_class="LlamaForCausalLM", model_type="llama",
        vocab_size=288, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=256,
        tie_word_embeddings=True, attention_bias=False, rope_scaling=None,
        tokenizer_pre="gpt-2", seed=1001,
    ),
    "qwen2-bias": dict(
        arch="qwen2", hf_class="Qwen2ForCausalLM", model_type="qwen2",
        vocab_size=272, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        rope_theta=1000000.0, rms_norm_eps=1e-6, max_position_embeddings=256,
        tie_word_embeddings=False, attention_bias=True, rope_scaling=None,
        tokenizer_pre="qwen2", seed=2002,
    ),
    "llama3-rope-scaling": dict(
        arch="llama", hf_class="LlamaForCausalLM", model_type="llama",
        vocab_size=264, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=32,
        rope_theta=500000.0, rms_norm_eps=1e-5, max_position_embeddings=512,
        tie_word_embeddings=True, attention_bias=False,
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                          high_freq_factor=4.0, original_max_position_embeddings=64),
        tokenizer_pre="llama-bpe", seed=3003,
    ),
    # head_dim 64 (what the CUDA attention kernels run) and every in-dimension a multiple
    # of 128 (INT4 groups), untied: the GPU backend's fixture.
    "llama-hd64": dict(
        arch="llama", hf_class="LlamaForCausalLM", model_type="llama",
        vocab_size=288, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=64,
        rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=256,
        tie_word_embeddings=False, attention_bias=False, rope_scaling=None,
        tokenizer_pre="gpt-2", seed=4004,
    ),
}

# Weight scales: large enough that logits are peaky (greedy robust), see README.
EMBED_STD = 0.5      # token embeddings (and the untied output head)
PROJ_STD = 0.15      # q/k/v/o, gate/up/down
BIAS_STD = 0.2       # qwen2 q/k/v biases
NORM_JITTER = 0.1    # norm weights = 1 + NORM_JITTER * N(0,1)

BOS_ID, EOS_ID = 256, 258   # specials follow the 256 byte tokens

PROMPT_LENGTHS = [1, 7, 16, 17, 40]   # crosses 16-token KV block boundaries
N_GREEDY = 16
# logits of the F16 / Q8_0 / Q4_1 weights are stored for these prompts only (size budget);
# their greedy continuations are stored for every prompt
QUANT_LOGIT_PROMPTS = [1, 4]
QTYPES = ["f32", "f16", "q8_0", "q4_1"]


# --------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------
def make_weights(spec: dict) -> dict[str, np.ndarray]:
    """HF-named float32 tensors, deterministic."""
    rng = np.random.default_rng(spec["seed"])
    H, I, V = spec["hidden_size"], spec["intermediate_size"], spec["vocab_size"]
    nh, nkv, hd = spec["num_attention_heads"], spec["num_key_value_heads"], spec["head_dim"]

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm_w(n):
        return (1.0 + NORM_JITTER * rng.standard_normal(n)).astype(np.float32)

    w: dict[str, np.ndarray] = {}
    w["model.embed_tokens.weight"] = normal((V, H), EMBED_STD)
    for l in range(spec["num_hidden_layers"]):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = norm_w(H)
        w[p + "self_attn.q_proj.weight"] = normal((nh * hd, H), PROJ_STD)
        w[p + "self_attn.k_proj.weight"] = normal((nkv * hd, H), PROJ_STD)
        w[p + "self_attn.v_proj.weight"] = normal((nkv * hd, H), PROJ_STD)
        if spec["attention_bias"]:
            w[p + "self_attn.q_proj.bias"] = normal((nh * hd,), BIAS_STD)
            w[p + "self_attn.k_proj.bias"] = normal((nkv * hd,), BIAS_STD)
            w[p + "self_attn.v_proj.bias"] = normal((nkv * hd,), BIAS_STD)
        w[p + "self_attn.o_proj.weight"] = normal((H, nh * hd), PROJ_STD)
        w[p + "post_attention_layernorm.weight"] = norm_w(H)
        w[p + "mlp.gate_proj.weight"] = normal((I, H), PROJ_STD)
        w[p + "mlp.up_proj.weight"] = normal((I, H), PROJ_STD)
        w[p + "mlp.down_proj.weight"] = normal((H, I), PROJ_STD)
    w["model.norm.weight"] = norm_w(H)
    if not spec["tie_word_embeddings"]:
        w["lm_head.weight"] = normal((V, H), EMBED_STD)
    return w


def hf_config(spec: dict) -> dict:
    cfg = {
        "architectures": [spec["hf_class"]],
        "model_type": spec["model_type"],
        "vocab_size": spec["vocab_size"],
        "hidden_size": spec["hidden_size"],
        "intermediate_size": spec["intermediate_size"],
        "num_hidden_layers": spec["num_hidden_layers"],
        "num_attention_heads": spec["num_attention_heads"],
        "num_key_value_heads": spec["num_key_value_heads"],
        "head_dim": spec["head_dim"],
        "hidden_act": "silu",
        "max_position_embeddings": spec["max_position_embeddings"],
        "rms_norm_eps": spec["rms_norm_eps"],
        "rope_theta": spec["rope_theta"],
        "rope_scaling": spec["rope_scaling"],
        "tie_word_embeddings": spec["tie_word_embeddings"],
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "initializer_range": 0.02,
        "use_cache": True,
        "torch_dtype": "float32",
    }
    if spec["model_type"] == "llama":
        cfg["attention_bias"] = False
        cfg["mlp_bias"] = False
        cfg["pretraining_tp"] = 1
    else:  # qwen2: q/k/v always carry a bias, o_proj none
        cfg["use_sliding_window"] = False
        cfg["sliding_window"] = None
        cfg["max_window_layers"] = spec["num_hidden_layers"]
    return cfg


def llama3_rope_factors(spec: dict) -> np.ndarray:
    """rope_freqs.weight as convert_hf_to_gguf.py computes it (per rotary pair i, the number
    the wavelength is multiplied by: llama.cpp divides theta_i by it).

    NOTE: the upstream converter reads original_max_position_embeddings from the top level of
    config.json (default 8192), not from rope_scaling; we take it from rope_scaling, which is
    what transformers uses, so that GGUF and HF agree (for real Llama 3.x both are 8192)."""
    rs = spec["rope_scaling"]
    base, dim = spec["rope_theta"], spec["head_dim"]
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wl, high_wl = old / lo, old / hi
    out = []
    for f in freqs:
        wl = 2 * math.pi / float(f)
        if wl < high_wl:
            out.append(1.0)
        elif wl > low_wl:
            out.append(factor)
        else:
            smooth = (old / wl - lo) / (hi - lo)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


# --------------------------------------------------------------------------------------
# GGUF
# --------------------------------------------------------------------------------------
def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute: HF half-split RoPE rows -> GGUF adjacent pairs."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def unpermute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    return (w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


HF_TO_GGUF = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf: str) -> str:
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    assert parts[0] == "model" and parts[1] == "layers", hf
    return f"blk.{parts[2]}." + HF_TO_GGUF[".".join(parts[3:])]


def hf_name(gg: str) -> str | None:
    inv = {v: k for k, v in HF_TO_GGUF.items()}
    if gg == "token_embd.weight":
        return "model.embed_tokens.weight"
    if gg == "output_norm.weight":
        return "model.norm.weight"
    if gg == "output.weight":
        return "lm_head.weight"
    if gg == "rope_freqs.weight":
        return None
    parts = gg.split(".")
    return f"model.layers.{parts[1]}." + inv[".".join(parts[2:])]


def tensor_qtype(gg: str, arr: np.ndarray, qtype: str, spec: dict):
    """GGML type for one tensor in a file of type qtype (mirrors convert_hf_to_gguf.py and,
    for Q4_1, llama-quantize as it made the default SmolLM2 Q4_1 file)."""
    import gguf
    T = gguf.GGMLQuantizationType
    if arr.ndim <= 1 or gg.endswith("_norm.weight") or gg == "rope_freqs.weight":
        return T.F32
    base = {"f32": T.F32, "f16": T.F16, "q8_0": T.Q8_0, "q4_1": T.Q4_1}[qtype]
    if qtype == "q4_1":
        # llama-quantize puts the output head in a higher type (Q6_K, falling back to Q8_0
        # when rows are not a multiple of 256). For a tied model the head is token_embd:
        # the default model SmolLM2-135M-Instruct.Q4_1.gguf has token_embd in Q8_0.
        if gg == "output.weight" or (gg == "token_embd.weight" and spec["tie_word_embeddings"]):
            return T.Q8_0
    if base in (T.Q8_0, T.Q4_1):
        assert arr.shape[-1] % 32 == 0, (gg, arr.shape)
    return base


def byte_vocab(spec: dict):
    """GPT-2 byte-level vocab: ids 0..255 the byte symbols (in byte order), then specials and
    a few merged tokens, padded to vocab_size."""
    import gguf
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    b2u = {b: chr(c) for b, c in zip(bs, cs)}
    tokens = [b2u[b] for b in range(256)]
    types = [gguf.TokenType.NORMAL] * 256
    tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types += [gguf.TokenType.CONTROL] * 3
    pairs = [("Ġ", "t"), ("h", "e"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("o", "n"),
             ("r", "e"), ("a", "t"), ("e", "n"), ("o", "r")]
    merges = []
    for a, b in pairs:
        if len(tokens) >= spec["vocab_size"]:
            break
        tokens.append(a + b)
        types.append(gguf.TokenType.NORMAL)
        merges.append(f"{a} {b}")
    i = 0
    while len(tokens) < spec["vocab_size"]:
        tokens.append(f"<|extra_{i}|>")
        types.append(gguf.TokenType.CONTROL)
        i += 1
    assert tokens[BOS_ID] == "<|endoftext|>" and tokens[EOS_ID] == "<|im_end|>"
    return tokens, types, merges


def write_gguf(spec: dict, name: str, w: dict[str, np.ndarray], qtype: str, path: Path) -> dict:
    import gguf
    from gguf import quants
    T = gguf.GGMLQuantizationType
    arch = spec["arch"]
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_1": gguf.LlamaFileType.MOSTLY_Q4_1}[qtype]
    wr = gguf.GGUFWriter(str(path), arch)
    wr.add_type(gguf.GGUFType.MODEL)
    wr.add_name(name)
    wr.add_block_count(spec["num_hidden_layers"])
    wr.add_context_length(spec["max_position_embeddings"])
    wr.add_embedding_length(spec["hidden_size"])
    wr.add_feed_forward_length(spec["intermediate_size"])
    wr.add_head_count(spec["num_attention_heads"])
    wr.add_head_count_kv(spec["num_key_value_heads"])
    wr.add_rope_freq_base(spec["rope_theta"])
    wr.add_layer_norm_rms_eps(spec["rms_norm_eps"])
    wr.add_key_length(spec["head_dim"])      # config.json has head_dim
    wr.add_value_length(spec["head_dim"])
    wr.add_file_type(ftype)
    if arch == "llama":                       # LlamaModel.set_gguf_parameters
        wr.add_vocab_size(spec["vocab_size"])
        wr.add_rope_dimension_count(spec["head_dim"])
    # tokenizer
    tokens, types, merges = byte_vocab(spec)
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre(spec["tokenizer_pre"])
    wr.add_token_list(tokens)
    wr.add_token_types(types)
    wr.add_token_merges(merges)
    wr.add_bos_token_id(BOS_ID)
    wr.add_eos_token_id(EOS_ID)
    wr.add_pad_token_id(EOS_ID)
    wr.add_add_bos_token(False)
    wr.add_quantization_version(gguf.GGML_QUANT_VERSION)

    nh, nkv = spec["num_attention_heads"], spec["num_key_value_heads"]
    types_used = {}
    for hf, arr in w.items():
        gg = gguf_name(hf)
        data = arr
        if arch == "llama":   # undo_permute = True for LlamaModel; Qwen2 keeps NEOX layout
            if hf.endswith(("q_proj.weight", "q_proj.bias")):
                data = permute_qk(data, nh)
            elif hf.endswith(("k_proj.weight", "k_proj.bias")):
                data = permute_qk(data, nkv)
        t = tensor_qtype(gg, data, qtype, spec)
        types_used[gg] = t.name
        if t == T.F32:
            wr.add_tensor(gg, np.ascontiguousarray(data, dtype=np.float32))
        elif t == T.F16:
            wr.add_tensor(gg, np.ascontiguousarray(data.astype(np.float16)))
        else:
            wr.add_tensor(gg, quants.quantize(np.ascontiguousarray(data), t), raw_dtype=t)
    if spec["rope_scaling"] and spec["rope_scaling"]["rope_type"] == "llama3":
        # LlamaModel.generate_extra_tensors (written after the model's own tensors)
        wr.add_tensor("rope_freqs.weight", llama3_rope_factors(spec))
        types_used["rope_freqs.weight"] = "F32"
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return types_used


def read_gguf_as_hf(path: Path, spec: dict) -> dict[str, np.ndarray]:
    """Dequantize every tensor of a GGUF back to float32 HF names/layout (un-permuting Q/K)."""
    import gguf
    from gguf import quants
    r = gguf.GGUFReader(str(path))
    nh, nkv = spec["num_attention_heads"], spec["num_key_value_heads"]
    out = {}
    for t in r.tensors:
        hf = hf_name(t.name)
        if hf is None:
            continue
        a = quants.dequantize(np.array(t.data), t.tensor_type).astype(np.float32)
        shape = tuple(int(x) for x in reversed(t.shape))   # GGUF stores ne0 (fastest) first
        a = a.reshape(shape)
        if spec["arch"] == "llama":
            if hf.endswith(("q_proj.weight", "q_proj.bias")):
                a = unpermute_qk(a, nh)
            elif hf.endswith(("k_proj.weight", "k_proj.bias")):
                a = unpermute_qk(a, nkv)
        out[hf] = np.ascontiguousarray(a)
    return out


def prompts_for(spec: dict) -> list[np.ndarray]:
    rng = np.random.default_rng(spec["seed"] + 7)
    # ordinary (non-special) ids: bytes and merged tokens, never the control tokens 256..258
    ordinary = [i for i in range(spec["vocab_size"]) if i < 256 or 259 <= i < 269]
    return [rng.choice(ordinary, size=n).astype(np.int32) for n in PROMPT_LENGTHS]


def stage_weights(out: Path, names: list[str]) -> None:
    from safetensors.numpy import save_file
    for name in names:
        spec = SPECS[name]
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        w = make_weights(spec)
        (d / "config.json").write_text(json.dumps(hf_config(spec), indent=2, sort_keys=True) + "\n")
        (d / "generation_config.json").write_text(json.dumps(
            {"bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "do_sample": False}, indent=2) + "\n")
        save_file(w, str(d / "model.safetensors"), metadata={"format": "pt"})
        types = {}
        for q in QTYPES:
            types[q] = write_gguf(spec, name, w, q, d / f"model-{q}.gguf")
        # round-trip check: F32 GGUF must give back exactly the HF weights
        back = read_gguf_as_hf(d / "model-f32.gguf", spec)
        assert set(back) == set(w), (set(back) ^ set(w))
        for k in w:
            assert np.array_equal(back[k], w[k]), k
        (d / "gguf_types.json").write_text(json.dumps(types, indent=2, sort_keys=True) + "\n")
        sizes = {p.name: p.stat().st_size for p in sorted(d.iterdir())}
        print(f"[weights] {name}: {sizes}")


# --------------------------------------------------------------------------------------
# Golden (torch + transformers)
# --------------------------------------------------------------------------------------
def rel_err(a: np.ndarray, ref: np.ndarray) -> dict:
    a = a.astype(np.float64)
    ref = ref.astype(np.float64)
    return {
        "rel_l2": float(np.linalg.norm(a - ref) / np.linalg.norm(ref)),
        "max_abs": float(np.max(np.abs(a - ref))),
        "max_abs_over_max_ref": float(np.max(np.abs(a - ref)) / np.max(np.abs(ref))),
        # worst row (position), relative L2
        "max_row_rel_l2": float(np.max(np.linalg.norm(a - ref, axis=-1) /
                                       np.linalg.norm(ref, axis=-1))),
        "argmax_agree": float(np.mean(np.argmax(a, -1) == np.argmax(ref, -1))),
    }


def stage_golden(out: Path, names: list[str]) -> dict:
    import torch
    import transformers
    from safetensors.numpy import save_file

    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    report = {"torch": torch.__version__, "transformers": transformers.__version__, "models": {}}

    for name in names:
        spec = SPECS[name]
        d = out / name
        cls = getattr(transformers, spec["hf_class"])
        model = cls.from_pretrained(str(d), torch_dtype=torch.float32,
                                    attn_implementation="eager").eval()
        ref_sd = {k: v.clone() for k, v in model.state_dict().items()}
        if spec["rope_scaling"]:
            # the rope_freqs.weight we write must be exactly what transformers applies
            hf_inv = model.model.rotary_emb.inv_freq.double().numpy()
            base = 1.0 / (spec["rope_theta"] ** (np.arange(0, spec["head_dim"], 2) / spec["head_dim"]))
            ours = base / llama3_rope_factors(spec).astype(np.float64)
            print(f"[golden] {name} inv_freq HF {hf_inv} ours {ours}")
            assert np.allclose(hf_inv, ours, rtol=1e-5), (hf_inv, ours)

        def run(tokens: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                ids = torch.from_numpy(tokens.astype(np.int64))[None, :]
                return model(input_ids=ids).logits[0].float().numpy()

        def greedy(tokens: np.ndarray):
            seq = list(int(t) for t in tokens)
            toks, margins = [], []
            for _ in range(N_GREEDY):
                lg = run(np.array(seq, dtype=np.int64))[-1]
                top2 = np.sort(lg)[-2:]
                nxt = int(np.argmax(lg))
                toks.append(nxt)
                margins.append(float(top2[1] - top2[0]))
                seq.append(nxt)
            return toks, margins

        prompts = prompts_for(spec)
        tensors: dict[str, np.ndarray] = {}
        info = {"model": name, "hf_class": spec["hf_class"], "vocab_size": spec["vocab_size"],
                "n_greedy": N_GREEDY, "prompts": [], "rel_err_vs_f32": {}}
        f32_logits = []
        for i, p in enumerate(prompts):
            lg = run(p)
            f32_logits.append(lg)
            tensors[f"tokens_{i}"] = p.astype(np.int32)
            tensors[f"logits_{i}"] = lg.astype(np.float32)
            toks, margins = greedy(p)
            info["prompts"].append({"index": i, "tokens": [int(t) for t in p],
                                    "greedy": {"f32": toks}, "greedy_margin": {"f32": margins}})

        for q in QTYPES:
            sd = read_gguf_as_hf(d / f"model-{q}.gguf", spec)
            new_sd = dict(ref_sd)
            for k, v in sd.items():
                assert k in new_sd, k
                assert tuple(new_sd[k].shape) == v.shape, (k, new_sd[k].shape, v.shape)
                new_sd[k] = torch.from_numpy(v)
            if spec["tie_word_embeddings"]:
                new_sd["lm_head.weight"] = new_sd["model.embed_tokens.weight"]
            model.load_state_dict(new_sd, strict=True)
            if spec["tie_word_embeddings"]:
                assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
            errs = []
            for i, p in enumerate(prompts):
                lg = run(p)
                if q == "f32":
                    assert np.array_equal(lg, f32_logits[i]), "F32 GGUF round trip changed logits"
                    continue
                if i in QUANT_LOGIT_PROMPTS:
                    tensors[f"logits_{q}_{i}"] = lg.astype(np.float32)
                errs.append(rel_err(lg, f32_logits[i]))
                toks, margins = greedy(p)
                info["prompts"][i]["greedy"][q] = toks
                info["prompts"][i]["greedy_margin"][q] = margins
            if errs:
                info["rel_err_vs_f32"][q] = {
                    "rel_l2_max_over_prompts": max(e["rel_l2"] for e in errs),
                    "max_row_rel_l2": max(e["max_row_rel_l2"] for e in errs),
                    "max_abs": max(e["max_abs"] for e in errs),
                    "max_abs_over_max_ref": max(e["max_abs_over_max_ref"] for e in errs),
                    "argmax_agree_min": min(e["argmax_agree"] for e in errs),
                    "per_prompt": errs,
                }
        model.load_state_dict(ref_sd, strict=True)
        # logit scale, to judge peakiness
        allf = np.concatenate(f32_logits, 0)
        srt = np.sort(allf, axis=-1)
        info["logit_stats_f32"] = {
            "std": float(allf.std()),
            "top1_minus_top2_median": float(np.median(srt[:, -1] - srt[:, -2])),
            "top1_minus_top2_min": float(np.min(srt[:, -1] - srt[:, -2])),
        }
        info["torch"], info["transformers"] = torch.__version__, transformers.__version__
        # one metadata key only: safetensors keeps metadata in a hash map, so the order of
        # several keys (and the file's bytes) would change from run to run
        save_file(tensors, str(d / "golden.safetensors"),
                  metadata={"source": f"transformers eager fp32 CPU, model {name}"})
        (d / "golden.json").write_text(dump_json(info))
        report["models"][name] = {k: v for k, v in info.items() if k != "prompts"}
        for q, e in info["rel_err_vs_f32"].items():
            print(f"[golden] {name} {q}: rel_l2 {e['rel_l2_max_over_prompts']:.3e} "
                  f"max_row {e['max_row_rel_l2']:.3e} argmax_agree_min {e['argmax_agree_min']:.3f}")
        print(f"[golden] {name} logit stats {info['logit_stats_f32']}")
    return report


# --------------------------------------------------------------------------------------
# Check (numpy only): an independent forward pass over the GGUF tensors, done the way
# llama.cpp does it (adjacent-pair RoPE on the permuted Q/K for llama, NEOX for qwen2,
# theta / rope_freqs), against the transformers golden logits. Optionally emulates the
# activation quantization of llama.cpp-style integer dot products, to estimate the error an
# engine that quantizes activations has against the same-weights golden.
# --------------------------------------------------------------------------------------
def _q8_blocks(x: np.ndarray) -> np.ndarray:
    """Quantize-dequantize rows of x in blocks of 32 as ggml's Q8_0 / Q8_1 (d = amax/127)."""
    sh = x.shape
    b = x.reshape(-1, 32).astype(np.float32)
    d = np.abs(b).max(axis=1, keepdims=True) / 127.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d > 0, np.round(b / np.where(d > 0, d, 1)), 0)
    d16 = d.astype(np.float16).astype(np.float32)   # ggml stores the scale in fp16
    return (q * d16).reshape(sh)


def np_forward(spec: dict, t: dict[str, np.ndarray], types: dict[str, str], tokens,
               act_quant: bool = False, kv_f16: bool = False, dtype=np.float64) -> np.ndarray:
    H, nh, nkv, hd = spec["hidden_size"], spec["num_attention_heads"], spec["num_key_value_heads"], spec["head_dim"]
    eps = spec["rms_norm_eps"]
    tokens = np.asarray(tokens)
    T = len(tokens)
    pos = np.arange(T)

    def mm(x, name):
        w = t[name].astype(dtype)
        if act_quant:
            ty = types[name]
            if ty in ("Q8_0", "Q4_1"):
                x = _q8_blocks(x).astype(dtype)
            elif ty == "F16":
                x = x.astype(np.float16).astype(dtype)
        y = x @ w.T
        b = name.replace(".weight", ".bias")
        if b in t:
            y = y + t[b].astype(dtype)
        return y

    def rms(x, name):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * t[name].astype(dtype)

    inv = 1.0 / (spec["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    if "rope_freqs.weight" in t:
        inv = inv / t["rope_freqs.weight"].astype(np.float64)
    ang = pos[:, None] * inv[None, :]            # [T, hd/2]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

    def rope(x):  # x [T, heads, hd]
        x = x.copy()
        if spec["arch"] == "llama":              # GGUF llama: adjacent pairs (rows permuted)
            a, b = x[..., 0::2].copy(), x[..., 1::2].copy()
            x[..., 0::2], x[..., 1::2] = a * cos - b * sin, a * sin + b * cos
        else:                                    # NEOX: first half / second half
            a, b = x[..., :hd // 2].copy(), x[..., hd // 2:].copy()
            x[..., :hd // 2], x[..., hd // 2:] = a * cos - b * sin, a * sin + b * cos
        return x

    x = t["token_embd.weight"][tokens].astype(dtype)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(spec["num_hidden_layers"]):
        p = f"blk.{l}."
        h = rms(x, p + "attn_norm.weight")
        q = rope(mm(h, p + "attn_q.weight").reshape(T, nh, hd))
        k = rope(mm(h, p + "attn_k.weight").reshape(T, nkv, hd))
        v = mm(h, p + "attn_v.weight").reshape(T, nkv, hd)
        if kv_f16:
            k, v = k.astype(np.float16).astype(dtype), v.astype(np.float16).astype(dtype)
        o = np.empty((T, nh, hd), dtype=dtype)
        g = nh // nkv
        for hh in range(nh):
            s = q[:, hh, :] @ k[:, hh // g, :].T / math.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            o[:, hh, :] = s @ v[:, hh // g, :]
        x = x + mm(o.reshape(T, nh * hd), p + "attn_output.weight")
        h = rms(x, p + "ffn_norm.weight")
        gt, up = mm(h, p + "ffn_gate.weight"), mm(h, p + "ffn_up.weight")
        x = x + mm(gt / (1 + np.exp(-gt)) * up, p + "ffn_down.weight")
    x = rms(x, "output_norm.weight")
    return mm(x, "output.weight" if "output.weight" in t else "token_embd.weight")


def read_gguf_raw(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """GGUF tensors dequantized to float32, GGUF names and (permuted) layout."""
    import gguf
    from gguf import quants
    r = gguf.GGUFReader(str(path))
    out, types = {}, {}
    for t in r.tensors:
        a = quants.dequantize(np.array(t.data), t.tensor_type).astype(np.float32)
        out[t.name] = a.reshape(tuple(int(s) for s in reversed(t.shape)))
        types[t.name] = t.tensor_type.name
    return out, types


def stage_check(out: Path, names: list[str]) -> dict:
    from safetensors.numpy import load_file
    rep = {}
    for name in names:
        spec = SPECS[name]
        d = out / name
        gold = load_file(str(d / "golden.safetensors"))
        n_prompts = len(PROMPT_LENGTHS)
        r = {}
        for q in QTYPES:
            t, types = read_gguf_raw(d / f"model-{q}.gguf")
            exact, aq, aqkv = [], [], []
            for i in range(n_prompts):
                key = f"logits_{i}" if q == "f32" else f"logits_{q}_{i}"
                if key not in gold:
                    continue
                toks = gold[f"tokens_{i}"]
                ref = gold[key]
                exact.append(rel_err(np_forward(spec, t, types, toks), ref))
                aq.append(rel_err(np_forward(spec, t, types, toks, act_quant=True), ref))
                aqkv.append(rel_err(np_forward(spec, t, types, toks, act_quant=True, kv_f16=True), ref))

            def summ(es):
                return {"rel_l2": max(e["rel_l2"] for e in es),
                        "max_row_rel_l2": max(e["max_row_rel_l2"] for e in es),
                        "max_abs": max(e["max_abs"] for e in es),
                        "argmax_agree_min": min(e["argmax_agree"] for e in es)}
            r[q] = {"numpy_exact_vs_hf": summ(exact), "numpy_act_quant_vs_hf": summ(aq),
                    "numpy_act_quant_kv_f16_vs_hf": summ(aqkv)}
            print(f"[check] {name} {q}: exact {r[q]['numpy_exact_vs_hf']['rel_l2']:.2e}  "
                  f"act-quant {r[q]['numpy_act_quant_vs_hf']['rel_l2']:.2e} "
                  f"(row {r[q]['numpy_act_quant_vs_hf']['max_row_rel_l2']:.2e}, argmax "
                  f"{r[q]['numpy_act_quant_vs_hf']['argmax_agree_min']:.2f})  "
                  f"+kv f16 {r[q]['numpy_act_quant_kv_f16_vs_hf']['rel_l2']:.2e}")
            assert r[q]["numpy_exact_vs_hf"]["rel_l2"] < 1e-5, (name, q, r[q])
        rep[name] = r
    return rep


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--stage", choices=["all", "weights", "golden", "check"], default="all")
    ap.add_argument("--models", nargs="*", default=list(SPECS))
    ap.add_argument("--report", type=Path, default=None, help="write the golden report JSON here")
    a = ap.parse_args()
    if a.stage in ("all", "weights"):
        stage_weights(a.out, a.models)
    if a.stage in ("all", "golden"):
        rep = stage_golden(a.out, a.models)
        if a.report:
            a.report.write_text(json.dumps(rep, indent=1) + "\n")
    if a.stage in ("all", "check"):
        rep = stage_check(a.out, a.models)
        (a.out / "numpy_check.json").write_text(dump_json(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
