"""Times the dense bf16 GEMV (kernels/cuda/dense_gemv.cu) against torch.matmul (cuBLAS) on
the weight shapes of a Llama-3-8B decode step, m = 1..8, and prints achieved bandwidth
against the device copy rate measured first. Both sides replay one CUDA graph over enough
weight copies that L2 holds none of them (bench_kernels.bench_graph).

  python3 bench/cuda/bench_dense_gemv.py --lib build/cuda/libradixserve_cuda_capi.so [--out OUT]
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "cuda"))
sys.path.insert(0, HERE)
import rs_cuda as rs  # noqa: E402
from bench_kernels import bench_graph  # noqa: E402
from test_dense_gemv import bind  # noqa: E402

SHAPES = [("qkv", 6144, 4096), ("q", 4096, 4096), ("kv", 2048, 4096), ("o", 4096, 4096),
          ("gate_up", 28672, 4096), ("down", 4096, 14336), ("lm_head", 128256, 4096)]


def copy_rate():
    """Eager device copies (a graph's memcpy node would use the slower copy engines)."""
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(10):
        y.copy_(x)
    b.record()
    b.synchronize()
    return 2 * x.numel() * 10 / (a.elapsed_time(b) * 1e-3)


def main():
    lib = rs.load_lib()
    gemv = bind(lib)
    stream = rs.stream()
    bw = copy_rate()
    print(f"copy {bw / 1e12:.2f} TB/s")
    rows = []
    print(f"{'shape':>9} {'m':>2} {'ours us':>8} {'cuBLAS us':>9} {'speedup':>7} {'ours TB/s':>9} {'%copy':>6}")
    for name, n, k in SHAPES:
        out_f32 = name == "lm_head"
        nbytes = n * k * 2
        copies = max(2, -(-(400 << 20) // nbytes))
        ws = [(torch.randn(n, k, device="cuda") * 0.02).to(torch.bfloat16) for _ in range(copies)]
        for m in [1, 2, 4]:
            x = torch.randn(m, k, device="cuda").to(torch.bfloat16)
            y = torch.empty(m, n, device="cuda", dtype=torch.float32 if out_f32 else torch.bfloat16)
            ours = bench_graph([lambda w=w: gemv(x, w, None, y, out_f32, m, n, k) for w in ws], calls=max(8, 2 * copies))
            if out_f32:
                theirs = bench_graph([lambda w=w: torch.matmul(x, w.T, out=None).float() for w in ws],
                                     calls=max(8, 2 * copies))
            else:
                theirs = bench_graph([lambda w=w: torch.matmul(x, w.T, out=y) for w in ws], calls=max(8, 2 * copies))
            rate = nbytes / ours
            rows.append(dict(shape=name, n=n, k=k, m=m, ours_us=ours * 1e6,
                             cublas_us=theirs * 1e6,
                             speedup=theirs / ours, ours_tb_s=rate / 1e12, pct_copy=100 * rate / bw))
            r = rows[-1]
            print(f"{name:>9} {m:>2} {r['ours_us']:8.1f} {r['cublas_us']:9.1f} {r['speedup']:7.2f} "
                  f"{r['ours_tb_s']:9.2f} {r['pct_copy']:5.0f}%", flush=True)
        del ws
    if "--out" in sys.argv:
        out = sys.argv[sys.argv.index("--out") + 1]
        json.dump(dict(copy_bytes_per_s=bw, rows=rows), open(os.path.join(out, "dense_gemv_bench.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
