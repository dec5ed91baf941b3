#!/usr/bin/env python3
"""llama.cpp's CPU speed on a GGUF, the baseline radixserve's CPU bench is compared with.

Measures, through llama-cpp-python's low-level API (llama_decode, wall clock around each
decode + llama_synchronize, best of --reps runs, after one warm-up):
  pp  prompt processing: B sequences of --pp tokens (default 512) each, decoded in
      n_batch-sized chunks (512), logits only for each sequence's last token;
      tokens/s = B * pp / time.
  tg  generation: then --tg steps (default 128), each one llama_decode of a batch holding one
      new token of every sequence (logits for all of them, as a server needs);
      tokens/s = B * tg / time. Sampling is not timed (fixed token ids, as llama-bench does).
For B = 1 this is llama-bench's pp512 / tg128. llama.cpp's own perf counters
(llama_perf_context) are printed for B = 1 as a cross-check.

Needs: llama-cpp-python (built from PyPI's sdist; .venv-fixtures has it), numpy.
Run:   .venv-fixtures/bin/python bench/llama_cpp_bench.py \
           [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--threads 2] [--batches 1 4 16] \
           [--pp 512] [--tg 128] [--reps 3] [--json out.json]
Prints a table and one JSON object (also written to --json).
Mind the machine's load: llama.cpp's CPU threads meet at a barrier after every op (OpenMP,
spinning by default), so on an oversubscribed machine 2 threads can be 10x slower than 1;
the JSON records the load average. OMP_WAIT_POLICY=passive softens that (not llama.cpp's
default); compare engines only from runs taken in the same conditions.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
_LOG_CB = None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--pp", type=int, default=512)
    ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3, help="repetitions for B=1 (best kept); B>1 gets max(1, reps-1)")
    ap.add_argument("--n-batch", type=int, default=512)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()

    import llama_cpp as L

    global _LOG_CB  # the ctypes callback must outlive every llama.cpp call
    _LOG_CB = L.llama_log_callback(lambda lvl, txt, ud: None)
    L.llama_log_set(_LOG_CB, ctypes.c_void_p())
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    model = L.llama_model_load_from_file(str(a.model).encode(), mp)
    if not model:
        print(f"cannot load {a.model}", file=sys.stderr)
        return 1
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    rng = np.random.default_rng(0)

    results = []
    for B in a.batches:
        cp = L.llama_context_default_params()
        per_seq = a.pp + a.tg + 16
        cp.n_ctx = B * per_seq
        cp.n_batch = max(a.n_batch, B)
        cp.n_ubatch = max(a.n_batch, B)
        cp.n_seq_max = B
        cp.n_threads = a.threads
        cp.n_threads_batch = a.threads
        cp.no_perf = False
        ctx = L.llama_init_from_model(model, cp)
        if not ctx:
            print(f"cannot create a context for B={B}", file=sys.stderr)
            return 1
        mem = L.llama_get_memory(ctx)
        cap = max(a.n_batch, B)
        batch = L.llama_batch_init(cap, 0, 1)

        def fill(items):
            """items: list of (token, pos, seq, want_logits)"""
            batch.n_tokens = len(items)
            for i, (t, p, s, lg) in enumerate(items):
                batch.token[i] = int(t)
                batch.pos[i] = int(p)
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = int(s)
                batch.logits[i] = bool(lg)

        def decode():
            rc = L.llama_decode(ctx, batch)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")

        prompts = rng.integers(16, n_vocab - 16, size=(B, a.pp))
        gen_tok = rng.integers(16, n_vocab - 16, size=(a.tg, B))

        def one_run():
            L.llama_memory_clear(mem, True)
            L.llama_perf_context_reset(ctx)
            t0 = time.perf_counter()
            for s in range(B):
                for c0 in range(0, a.pp, a.n_batch):
                    c1 = min(a.pp, c0 + a.n_batch)
                    fill([(prompts[s, j], j, s, j == a.pp - 1) for j in range(c0, c1)])
                    decode()
            L.llama_synchronize(ctx)
            t1 = time.perf_counter()
            for k in range(a.tg):
                fill([(gen_tok[k, s], a.pp + k, s, True) for s in range(B)])
                decode()
                L.llama_synchronize(ctx)
            t2 = time.perf_counter()
            perf = L.llama_perf_context(ctx)
            return t1 - t0, t2 - t1, perf

        # warm-up: a short prompt and a few steps
        L.llama_memory_clear(mem, True)
        fill([(prompts[0, j], j, 0, j == 31) for j in range(32)])
        decode()
        for k in range(4):
            fill([(gen_tok[k, 0], 32 + k, 0, True)])
            decode()
        L.llama_synchronize(ctx)

        reps = a.reps if B == 1 else max(1, a.reps - 1)
        runs = [one_run() for _ in range(reps)]
        pp_s = min(r[0] for r in runs)
        tg_s = min(r[1] for r in runs)
        row = {"batch": B, "threads": a.threads, "pp_tokens": a.pp, "tg_tokens": a.tg,
               "pp_tok_s": B * a.pp / pp_s, "tg_tok_s": B * a.tg / tg_s,
               "tg_ms_per_step": 1000 * tg_s / a.tg, "reps": reps,
               "pp_tok_s_all": [B * a.pp / r[0] for r in runs],
               "tg_tok_s_all": [B * a.tg / r[1] for r in runs]}
        if B == 1:
            p = runs[-1][2]
            row["llama_perf_last_run"] = {
                "t_p_eval_ms": p.t_p_eval_ms, "n_p_eval": p.n_p_eval,
                "t_eval_ms": p.t_eval_ms, "n_eval": p.n_eval,
                "pp_tok_s": 1000 * p.n_p_eval / p.t_p_eval_ms if p.t_p_eval_ms else None,
                "tg_tok_s": 1000 * p.n_eval / p.t_eval_ms if p.t_eval_ms else None}
        results.append(row)
        print(f"B={B:3d}  pp{a.pp} {row['pp_tok_s']:9.1f} tok/s   tg{a.tg} {row['tg_tok_s']:9.1f} tok/s"
              f"  ({row['tg_ms_per_step']:.2f} ms/step)", flush=True)
        L.llama_batch_free(batch)
        L.llama_free(ctx)

    L.llama_model_free(model)
    out = {
        "engine": "llama.cpp",
        "llama_cpp_python": getattr(L, "__version__", "?"),
        "system_info": L.llama_print_system_info().decode(),
        "model": a.model.name,
        "threads": a.threads,
        "cpu": platform.processor() or platform.machine(),
        "nproc": os.cpu_count(),
        "timing": "wall clock around llama_decode + llama_synchronize; best of reps",
        "loadavg_at_end": os.getloadavg(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(default)"),
        "results": results,
    }
    print()
    print(f"| engine | model | threads | batch | pp{a.pp} tok/s | tg{a.tg} tok/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| llama.cpp | {a.model.name} | {a.threads} | {r['batch']} | {r['pp_tok_s']:.1f} | {r['tg_tok_s']:.1f} |")
    print()
    print(json.dumps(out))
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
