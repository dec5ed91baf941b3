#!/usr/bin/env python3
"""Makes a random-weight Llama-3-8B-shaped model with transformers (bf16, on the GPU) and
measures transformers' own generate on it: batch-1 decode tokens/s and batch-N offline
throughput with a static cache (512-token prompts, 128 generated), plus the decode floor:
weight bytes / measured device copy bandwidth. Writes OUT/model (safetensors) and
OUT/hf_baseline.json.

  python3 bench/cuda/hf_baseline.py --out /tmp/llama8b [--layers 32] [--skip-hf]
"""
import argparse
import json
import os
import time

import torch
import transformers


def copy_bandwidth():
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(10):
        y.copy_(x)
    torch.cuda.synchronize()
    return 2 * x.numel() * 10 / (time.perf_counter() - t)  # bytes read + written per second


def timed_generate(model, batch, prompt, gen, static):
    ids = torch.randint(3, model.config.vocab_size, (batch, prompt), device="cuda")
    kw = dict(max_new_tokens=gen, min_new_tokens=gen, do_sample=False)
    if static:
        kw["cache_implementation"] = "static"
    # Warm-up with the timed shapes: a static cache sizes itself (and transformers compiles
    # its decode step, where it does) by prompt + max_new_tokens, so a shorter warm-up
    # would leave that work inside the timed run.
    model.generate(ids, **kw)
    torch.cuda.synchronize()
    t = time.perf_counter()
    out = model.generate(ids, **kw)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t
    return batch * (out.shape[1] - prompt) / dt, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--batches", default="32")
    ap.add_argument("--skip-hf", action="store_true")
    a = ap.parse_args()
    config = transformers.LlamaConfig(
        hidden_size=4096, intermediate_size=14336, num_attention_heads=32, num_key_value_heads=8,
        num_hidden_layers=a.layers, vocab_size=128256, rope_theta=500000.0, max_position_embeddings=131072,
        rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 8192})
    torch.manual_seed(0)
    t = time.perf_counter()
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.uniform_(0.8, 1.2) if "norm" in name else p.normal_(0.0, 0.02)
    model.eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    # Bytes a decode step must read: every weight but the embedding table (one row of it).
    step_bytes = weight_bytes - model.model.embed_tokens.weight.numel() * 2
    directory = os.path.join(a.out, "model")
    model.save_pretrained(directory, safe_serialization=True)
    made_s = time.perf_counter() - t
    bw = copy_bandwidth()
    result = dict(layers=a.layers, weight_bytes=weight_bytes, step_bytes=step_bytes, copy_bytes_per_s=bw,
                  floor_ms_per_step=step_bytes / bw * 1e3, floor_tok_per_s=bw / step_bytes, made_s=made_s)
    if not a.skip_hf:
        result["hf_batch1_tok_per_s"], _ = timed_generate(model, 1, 32, 128, static=False)
        for b in a.batches.split(","):
            result[f"hf_static_batch{b}_tok_per_s"], _ = timed_generate(model, int(b), 512, 128, static=True)
    json.dump(result, open(os.path.join(a.out, "hf_baseline.json"), "w"), indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
