#!/usr/bin/env python3
"""llama.cpp (through llama-cpp-python) reference data for radixserve.

Two parts (default: both):
  smollm2   Greedy continuations (32 tokens, argmax of the raw logits = temperature 0 / top_k 1,
            EOS not stopped at) of fixed prompts on the default model
            models/SmolLM2-135M-Instruct.Q4_1.gguf (`bash scripts/fetch_model.sh`), with the
            prompt ids as llama.cpp tokenizes them (special=True, add_bos=False as the model
            says), the continuation ids and text, and the first step's top-10 logits.
            -> tests/fixtures/models/smollm2_llama_cpp_greedy.json
  fixtures  llama.cpp's logits for every position of the golden prompts of the tiny random
            models (tests/fixtures/models/<name>/model-<type>.gguf, made by
            scripts/make_model_fixtures.py), compared with the transformers golden logits;
            greedy continuations (16 tokens) too.
            -> tests/fixtures/models/<name>/llama_cpp.json (errors and tokens; no logits,
               to keep the fixtures small: rerun this to get them)

Needs: llama-cpp-python (built from PyPI's sdist), numpy, safetensors.
Run:   .venv-fixtures/bin/python scripts/llama_cpp_reference.py [--part smollm2|fixtures|all]
       [--threads 2]
Deterministic: greedy, one sequence, fixed thread count (the logits of llama.cpp can change in
the last bits with the thread count and the batch split; the tokens did not).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "models"
DEFAULT_MODEL = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
N_GEN = 32

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chat(user: str, system: str | None = SYSTEM) -> str:
    # SmolLM2-Instruct's chat template (ChatML), with the generation prompt
    s = ""
    if system is not None:
        s += f"<|im_start|>system\n{system}<|im_end|>\n"
    return s + f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


PROMPTS = [
    {"name": "plain_capital", "chat": False, "text": "The capital of France is"},
    {"name": "plain_story", "chat": False,
     "text": "Once upon a time, in a small village at the edge of a great forest, there lived"},
    {"name": "plain_code", "chat": False, "text": "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"},
    {"name": "plain_list", "chat": False, "text": "Here are three tips for staying healthy:\n1."},
    {"name": "chat_gravity", "chat": True, "text": chat("What is gravity? Answer in two sentences.")},
    {"name": "chat_poem", "chat": True, "text": chat("Write a haiku about the sea.")},
    {"name": "chat_math", "chat": True, "text": chat("What is 12 times 7?")},
    {"name": "chat_nosys", "chat": True, "text": chat("Hello! Who are you?", system=None)},
]


def dump_json(obj) -> str:
    """json with lists of numbers kept on one line (small, still readable)."""
    import re
    s = json.dumps(obj, indent=1, ensure_ascii=False)
    return re.sub(r"\[\s*([-+\d.eE,\s]*?)\s*\]",
                  lambda m: "[" + re.sub(r"\s+", "", m.group(1)).replace(",", ", ") + "]", s) + "\n"


def load(path: Path, threads: int, logits_all: bool, n_ctx: int, kv_f32: bool = False):
    from llama_cpp import Llama
    kw = {}
    if kv_f32:   # GGML_TYPE_F32 = 0 for the K and V caches (default is F16)
        kw = dict(type_k=0, type_v=0)
    return Llama(model_path=str(path), n_ctx=n_ctx, n_batch=512, n_threads=threads,
                 n_threads_batch=threads, logits_all=logits_all, verbose=False, seed=0,
                 flash_attn=False, **kw)


def version_info() -> dict:
    import llama_cpp
    info = {"llama_cpp_python": getattr(llama_cpp, "__version__", "?")}
    try:
        info["system_info"] = llama_cpp.llama_print_system_info().decode()
    except Exception:  # noqa: BLE001
        pass
    return info


def last_logits(llm) -> np.ndarray:
    """Logits of the last evaluated token (works with and without logits_all)."""
    if llm._logits_all:
        return np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
    import llama_cpp
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float32).copy()


def greedy(llm, prompt_ids: list[int], n: int, eos: int | None = None):
    """Argmax decoding; returns tokens, first-step logits, and where EOS came (not stopped)."""
    llm.reset()
    llm.eval(prompt_ids)
    out, first, margins = [], None, []
    for _ in range(n):
        lg = last_logits(llm)
        if first is None:
            first = lg
        t = int(np.argmax(lg))
        top2 = np.partition(lg, -2)[-2:]
        margins.append(float(abs(top2[1] - top2[0])))
        out.append(t)
        llm.eval([t])
    eos_at = out.index(eos) if eos is not None and eos in out else None
    greedy.margins = margins
    return out, first, eos_at


def part_smollm2(model: Path, threads: int, out: Path) -> None:
    llm = load(model, threads, logits_all=False, n_ctx=512)
    vocab_eos = llm.token_eos()
    res = {"model": model.name, "n_gen": N_GEN, "method":
           "llama-cpp-python: reset, eval(prompt ids), then 32 x (argmax of the last logits, "
           "eval([token])); EOS not stopped at; add_bos=False (tokenizer.ggml.add_bos_token=false), "
           "special=True", "threads": threads, "eos_token_id": vocab_eos,
           **version_info(), "prompts": []}
    for p in PROMPTS:
        ids = llm.tokenize(p["text"].encode("utf-8"), add_bos=False, special=True)
        toks, first, eos_at = greedy(llm, ids, N_GEN, vocab_eos)
        top = np.argsort(-first, kind="stable")[:10]
        text = llm.detokenize(toks, special=True).decode("utf-8", errors="replace")
        res["prompts"].append({
            "name": p["name"], "chat": p["chat"], "prompt": p["text"],
            "prompt_ids": [int(t) for t in ids], "continuation_ids": toks,
            "continuation_text": text, "eos_at": eos_at,
            # top-1 minus top-2 logit at each step: a step with a small margin is where a
            # correct engine with slightly different rounding may pick the other token
            "step_margins": [round(m, 4) for m in greedy.margins],
            "first_step_top10": [{"id": int(i), "logit": float(first[i])} for i in top],
        })
        print(f"[smollm2] {p['name']}: {len(ids)} prompt ids -> {text!r}")
    out.write_text(dump_json(res))
    print(f"wrote {out}")


def rel(a: np.ndarray, ref: np.ndarray) -> dict:
    a, ref = a.astype(np.float64), ref.astype(np.float64)
    return {"rel_l2": float(np.linalg.norm(a - ref) / np.linalg.norm(ref)),
            "max_row_rel_l2": float(np.max(np.linalg.norm(a - ref, axis=-1) /
                                           np.linalg.norm(ref, axis=-1))),
            "max_abs": float(np.max(np.abs(a - ref))),
            "argmax_agree": float(np.mean(np.argmax(a, -1) == np.argmax(ref, -1)))}


def part_fixtures(threads: int) -> None:
    from safetensors.numpy import load_file
    for d in sorted(p for p in FIX.iterdir() if (p / "golden.json").is_file()):
        gold = load_file(str(d / "golden.safetensors"))
        gj = json.loads((d / "golden.json").read_text())
        res = {"model": d.name, "threads": threads, **version_info(), "types": {}}
        # "<type>": llama.cpp defaults (F16 KV cache); "<type>+kv_f32": F32 K/V caches
        for run in ["f32", "f32+kv_f32", "f16", "q8_0", "q4_1", "q4_1+kv_f32"]:
            q, kv_f32 = run.split("+")[0], run.endswith("+kv_f32")
            llm = load(d / f"model-{q}.gguf", threads, logits_all=True, n_ctx=128, kv_f32=kv_f32)
            per = {"vs_hf_same_weights": [], "vs_hf_f32": [], "greedy": [], "greedy_agree_hf": []}
            for p in gj["prompts"]:
                i, ids = p["index"], p["tokens"]
                llm.reset()
                llm.eval(ids)
                lg = np.array(llm.scores[:len(ids)], dtype=np.float32)
                e32 = rel(lg, gold[f"logits_{i}"])
                e32["prompt"] = i
                per["vs_hf_f32"].append(e32)
                key = f"logits_{i}" if q == "f32" else f"logits_{q}_{i}"
                if key in gold:
                    e = rel(lg, gold[key])
                    e["prompt"] = i
                    per["vs_hf_same_weights"].append(e)
                toks, _, _ = greedy(llm, ids, len(p["greedy"]["f32"]))
                per["greedy"].append(toks)
                hf = p["greedy"][q]
                # agreement up to the first difference
                k = next((j for j, (a, b) in enumerate(zip(toks, hf)) if a != b), len(hf))
                per["greedy_agree_hf"].append(k)
            s = per["vs_hf_same_weights"]
            per["summary"] = {
                "rel_l2_max_vs_hf_same_weights": max(e["rel_l2"] for e in s),
                "max_row_rel_l2_vs_hf_same_weights": max(e["max_row_rel_l2"] for e in s),
                "argmax_agree_min_vs_hf_same_weights": min(e["argmax_agree"] for e in s),
                "rel_l2_max_vs_hf_f32": max(e["rel_l2"] for e in per["vs_hf_f32"]),
                "greedy_tokens_equal_prefix": per["greedy_agree_hf"],
            }
            res["types"][run] = per
            print(f"[fixtures] {d.name} {run}: {per['summary']}")
            del llm
        (d / "llama_cpp.json").write_text(dump_json(res))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["all", "smollm2", "fixtures"], default="all")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=FIX / "smollm2_llama_cpp_greedy.json")
    a = ap.parse_args()
    if a.part in ("all", "fixtures"):
        part_fixtures(a.threads)
    if a.part in ("all", "smollm2"):
        if not a.model.is_file():
            print(f"missing {a.model}: run bash scripts/fetch_model.sh", file=sys.stderr)
            return 1
        part_smollm2(a.model, a.threads, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
