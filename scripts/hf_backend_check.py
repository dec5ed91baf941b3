#!/usr/bin/env python3
"""Checks a backend's logits against Hugging Face transformers (run on the GPU machine).

Makes random-weight models with transformers itself (Llama-3-8B and Qwen2-7B layer
shapes with fewer layers, and a small head_dim-64 Llama), saves them as bf16 safetensors,
runs `radixserve-backend-check` on them (every engine scenario: prefill, decode, chunked
prefill, prefix reuse, fork, batched, cascade) and compares each logits row with the
transformers forward over the same tokens:

  err(ours)  = ||ours - ref32|| / ||ref32||   ref32: the same weights run in float32
  err(hf16)  = the same for transformers itself in bf16 (the error bf16 brings)

A row passes when err(ours) <= 2 * err(hf16) + 2e-3 ("within bf16 error"); fork parent
and child must agree to 1e-6. Exit 1 on any failure. Also compares two backends of ours
(--also-cpu: the CPU backend on the small model).

  python3 scripts/hf_backend_check.py --tool build/backend/radixserve-backend-check --out /tmp/hfcheck
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
import transformers

MODELS = {
    # name: (config class, kwargs)
    "llama3-8b-shape": ("LlamaConfig", dict(
        hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
        num_hidden_layers=2, vocab_size=128256, rope_theta=500000.0, max_position_embeddings=131072,
        rms_norm_eps=1e-5, tie_word_embeddings=False,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})),
    "qwen2-7b-shape": ("Qwen2Config", dict(
        hidden_size=3584, intermediate_size=18944, num_attention_heads=28, num_key_value_heads=4,
        num_hidden_layers=2, vocab_size=152064, rope_theta=1000000.0, max_position_embeddings=32768,
        rms_norm_eps=1e-6, tie_word_embeddings=False)),
    "llama-small-hd64": ("LlamaConfig", dict(
        hidden_size=256, intermediate_size=704, num_attention_heads=4, num_key_value_heads=2,
        num_hidden_layers=3, vocab_size=1024, rope_theta=10000.0, max_position_embeddings=4096,
        rms_norm_eps=1e-6, tie_word_embeddings=True)),
    "llama-small-hd128-untied": ("LlamaConfig", dict(
        hidden_size=512, intermediate_size=1024, num_attention_heads=4, num_key_value_heads=2,
        num_hidden_layers=2, vocab_size=1024, rope_theta=10000.0, max_position_embeddings=4096,
        rms_norm_eps=1e-6, tie_word_embeddings=False)),
    "llama-small-hd64-untied": ("LlamaConfig", dict(
        hidden_size=256, intermediate_size=704, num_attention_heads=4, num_key_value_heads=2,
        num_hidden_layers=2, vocab_size=1024, rope_theta=10000.0, max_position_embeddings=4096,
        rms_norm_eps=1e-6, tie_word_embeddings=False)),
}


def make_model(name, directory, seed):
    cls_name, kw = MODELS[name]
    config = getattr(transformers, cls_name)(**kw)
    config.bos_token_id, config.eos_token_id = 1, 2
    torch.manual_seed(seed)
    model_cls = transformers.AutoModelForCausalLM
    model = model_cls.from_config(config, torch_dtype=torch.bfloat16)
    with torch.no_grad():  # wider weights than the default init so logits are not tiny
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.uniform_(0.8, 1.2)
            else:
                p.normal_(0.0, 0.02)
    model.save_pretrained(directory, safe_serialization=True)
    return model


def reference_logits(model, prompt, dtype):
    m = model.to(dtype=dtype, device="cuda").eval()
    with torch.no_grad():
        out = m(torch.tensor([prompt], device="cuda")).logits[0].float().cpu().numpy()
    return out


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def load_rows(prefix):
    index = json.load(open(prefix + ".json"))
    vocab = index.pop("vocab")
    data = np.fromfile(prefix + ".f32", dtype=np.float32).reshape(-1, vocab)
    return {k: (v["positions"], data[v["offset"]:v["offset"] + len(v["positions"])]) for k, v in index.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--backend", default="cuda")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--also-cpu", default="llama-small-hd64", help="models also run on the CPU backend")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(7)
    failures = 0
    summary = {}
    for i, name in enumerate(args.models.split(",")):
        directory = os.path.join(args.out, name)
        model = make_model(name, directory, seed=100 + i)
        vocab = MODELS[name][1]["vocab_size"]
        prompts = [rng.integers(3, vocab, size=n).tolist() for n in (161, 45, 97)]
        json.dump({"prompts": prompts}, open(os.path.join(directory, "prompts.json"), "w"))
        ref32 = [reference_logits(model, p, torch.float32) for p in prompts]
        ref16 = [reference_logits(model, p, torch.bfloat16) for p in prompts]
        del model
        torch.cuda.empty_cache()
        backends = [args.backend] + (["cpu"] if name in args.also_cpu.split(",") else [])
        for backend in backends:
            prefix = os.path.join(directory, backend)
            subprocess.run([args.tool, "--backend", backend, "--model", directory, "--prompts",
                            os.path.join(directory, "prompts.json"), "--out", prefix], check=True)
            rows = load_rows(prefix)
            worst, worst_hf, agree, total = 0.0, 0.0, 0, 0
            for key, (positions, logits) in sorted(rows.items()):
                p = int(key.split("/")[0][1:])
                for pos, row in zip(positions, logits):
                    e = rel(row, ref32[p][pos])
                    e16 = rel(ref16[p][pos], ref32[p][pos])
                    ok = e <= 2 * e16 + 2e-3
                    worst, worst_hf = max(worst, e), max(worst_hf, e16)
                    agree += int(np.argmax(row) == np.argmax(ref32[p][pos]))
                    total += 1
                    if not ok:
                        failures += 1
                        print(f"FAIL {name} {backend} {key} pos {pos}: err {e:.3e} vs transformers bf16 {e16:.3e}")
            for p in range(len(prompts)):
                fa, fb = rows[f"p{p}/fork_parent"][1], rows[f"p{p}/fork_child"][1]
                if rel(fb, fa) > 1e-6:
                    failures += 1
                    print(f"FAIL {name} {backend} p{p} fork child differs from parent: {rel(fb, fa):.3e}")
            summary[f"{name}/{backend}"] = dict(rows=total, worst_rel_err=worst, worst_hf_bf16_rel_err=worst_hf,
                                                top1_agree=f"{agree}/{total}")
            print(f"{name} on {backend}: {total} rows, worst rel err {worst:.3e} "
                  f"(transformers bf16: {worst_hf:.3e}), top-1 equal to float32 transformers {agree}/{total}")
    json.dump(summary, open(os.path.join(args.out, "summary.json"), "w"), indent=1)
    print("FAILURES:", failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
