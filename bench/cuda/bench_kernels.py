"""Times radixserve's CUDA kernels against the best PyTorch offers for the same work and
prints one table: ours, PyTorch, speedup, achieved TB/s or TFLOP/s against the ceilings
measured first on this machine (device-to-device copy, bf16 GEMM).

Timing: triton.testing.do_bench (CUDA events, L2 flushed between runs, median).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from triton.testing import do_bench

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "cuda"))
import rs_cuda as rs  # noqa: E402
from test_attention import PagedKv  # noqa: E402

ROWS = []


def bench(fn):
    return do_bench(fn, warmup=25, rep=100, return_mode="median") * 1e-3  # seconds


def bench_graph(fns, calls=24, reps=15):
    """Per-call time of fns (rotated, so several input sets keep the data out of L2)
    replayed from one CUDA graph: no host launch overhead on either side."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for f in fns:
            f()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for i in range(calls):
            fns[i % len(fns)]()
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        graph.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / calls)
    times.sort()
    return times[len(times) // 2] * 1e-3


def add(name, shape, ours_s, torch_s, torch_name, bytes_=None, flops=None, ceil=None):
    row = {"kernel": name, "shape": shape, "ours_us": ours_s * 1e6,
           "torch_us": torch_s * 1e6 if torch_s else None, "torch": torch_name,
           "speedup": (torch_s / ours_s) if torch_s else None}
    if bytes_ is not None:
        row["ours_tbs"] = bytes_ / ours_s / 1e12
        row["pct_ceiling"] = 100 * row["ours_tbs"] / ceil["copy_tbs"]
    if flops is not None:
        row["ours_tflops"] = flops / ours_s / 1e12
        if torch_s:
            row["torch_tflops"] = flops / torch_s / 1e12
        row["pct_ceiling"] = 100 * row["ours_tflops"] / ceil["gemm_tflops"]
    ROWS.append(row)
    print(json.dumps(row), flush=True)


def ceilings():
    n = 1 << 30  # 1 GiB each way
    a = torch.empty(n, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    t = bench(lambda: b.copy_(a))
    copy_tbs = 2 * n / t / 1e12
    m = 8192
    x = torch.randn(m, m, device="cuda", dtype=torch.bfloat16)
    y = torch.randn(m, m, device="cuda", dtype=torch.bfloat16)
    t = bench(lambda: x @ y)
    gemm = 2 * m ** 3 / t / 1e12
    del a, b, x, y
    print(f"ceilings: copy {copy_tbs:.2f} TB/s (read+write), bf16 GEMM {gemm:.0f} TFLOP/s", flush=True)
    return {"copy_tbs": copy_tbs, "gemm_tflops": gemm}


def bench_small_ops(lib, ceil):
    bf = torch.bfloat16
    st = rs.stream()
    # RMSNorm fused with residual add.
    T, H = 16384, 4096
    x = torch.randn(T, H, device="cuda", dtype=bf)
    r = torch.randn(T, H, device="cuda", dtype=bf)
    w = torch.randn(H, device="cuda", dtype=bf)
    out = torch.empty_like(x)
    ours = bench(lambda: lib.rs_rmsnorm(rs.BF16, rs.ptr(x), rs.ptr(out), rs.ptr(r), rs.ptr(w), T, H, 1e-6, st))

    def torch_rms():
        rr = x + r
        v = rr.float()
        return (v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6)).to(bf) * w
    add("rmsnorm+residual", f"{T}x{H} bf16", ours, bench(torch_rms), "eager", bytes_=4 * T * H * 2, ceil=ceil)
    ours = bench(lambda: lib.rs_rmsnorm(rs.BF16, rs.ptr(x), rs.ptr(out), None, rs.ptr(w), T, H, 1e-6, st))
    add("rmsnorm", f"{T}x{H} bf16", ours, bench(lambda: F.rms_norm(x, (H,), w, 1e-6)), "F.rms_norm",
        bytes_=2 * T * H * 2, ceil=ceil)
    del x, r, out
    # silu_and_mul.
    T, D = 8192, 14336
    x = torch.randn(T, 2 * D, device="cuda", dtype=bf)
    out = torch.empty(T, D, device="cuda", dtype=bf)
    ours = bench(lambda: lib.rs_silu_and_mul(rs.BF16, rs.ptr(x), rs.ptr(out), T, D, st))
    add("silu_and_mul", f"{T}x{D} bf16", ours, bench(lambda: F.silu(x[:, :D]) * x[:, D:]), "eager",
        bytes_=3 * T * D * 2, ceil=ceil)
    del x, out
    # RoPE (neox, Llama 3 scaled) in place on Q and K.
    T, HQ, HK, Dh = 16384, 32, 8, 128
    q = torch.randn(T, HQ, Dh, device="cuda", dtype=bf)
    k = torch.randn(T, HK, Dh, device="cuda", dtype=bf)
    pos = torch.arange(T, device="cuda", dtype=torch.int32)
    ours = bench(lambda: lib.rs_rope(rs.BF16, 1, rs.ptr(q), rs.ptr(k), rs.ptr(pos), T, HQ, HK, Dh, Dh, 0, 0,
                                     500000.0, 2, 8.0, 1.0, 4.0, 8192, st))
    inv = 1.0 / (500000.0 ** (torch.arange(0, Dh, 2, device="cuda").float() / Dh))
    ang = pos.float()[:, None] * inv[None]
    cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :].to(bf)
    sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :].to(bf)

    def rot_half(t):
        return torch.cat([-t[..., Dh // 2:], t[..., : Dh // 2]], -1)

    def torch_rope():  # HF-style with a precomputed cos/sin cache (not counted in bytes)
        return q * cos + rot_half(q) * sin, k * cos + rot_half(k) * sin
    add("rope q+k", f"T={T} {HQ}/{HK}x{Dh} bf16", ours, bench(torch_rope), "eager HF (cos/sin cached)",
        bytes_=2 * T * (HQ + HK) * Dh * 2, ceil=ceil)
    del q, k
    # KV write into paged blocks.
    T, HK, Dh, BS = 16384, 8, 128, 16
    nb = T // BS + 8
    kc = torch.empty(nb, HK, BS, Dh, device="cuda", dtype=bf)
    vc = torch.empty_like(kc)
    kn = torch.randn(T, HK, Dh, device="cuda", dtype=bf)
    vn = torch.randn_like(kn)
    slots = torch.randperm(nb * BS, device="cuda")[:T].to(torch.int32)
    ours = bench(lambda: lib.rs_write_kv(rs.BF16, rs.ptr(kn), rs.ptr(vn), rs.ptr(kc), rs.ptr(vc), nb, BS, HK, Dh,
                                         rs.ptr(slots), T, 0, 0, st))
    sl = slots.long()

    def torch_write():
        kc[sl // BS, :, sl % BS, :] = kn
        vc[sl // BS, :, sl % BS, :] = vn
    add("write_kv", f"T={T} {HK}x{Dh} bs={BS}", ours, bench(torch_write), "index_put",
        bytes_=2 * 2 * T * HK * Dh * 2, ceil=ceil)


def bench_decode(lib, ceil):
    bf = torch.bfloat16
    st = rs.stream()
    B, HQ, HK, D, BS, L = 64, 32, 8, 128, 16, 4096
    kv = PagedKv([L] * B, HK, D, BS, bf, extra_blocks=0)
    q = torch.randn(B, HQ, D, device="cuda", dtype=bf)
    o = torch.empty_like(q)
    wsb = lib.rs_decode_workspace_bytes(B, HQ, HK, D, L)
    ws = torch.empty(max(wsb, 1), device="cuda", dtype=torch.uint8)
    scale = 1 / math.sqrt(D)

    def ours_fn():
        lib.rs_decode(rs.BF16, rs.ptr(q), rs.ptr(o), None, rs.ptr(kv.k_cache), rs.ptr(kv.v_cache), kv.num_blocks,
                      BS, HK, D, B, rs.ptr(kv.kv_lens), rs.ptr(kv.block_indptr), rs.ptr(kv.block_ids), HQ, scale, L,
                      rs.ptr(ws), wsb, rs.stream())
    ours = bench_graph([ours_fn], calls=10)
    kbytes = 2 * B * L * HK * D * 2
    # PyTorch: SDPA over contiguous KV [B, HK, L, D], GQA.
    kt = torch.stack(kv.k).transpose(1, 2).contiguous()
    vt = torch.stack(kv.v).transpose(1, 2).contiguous()
    q4 = q[:, :, None, :]
    best, best_name = None, None
    from torch.nn.attention import SDPBackend, sdpa_kernel
    for backend, name in [(SDPBackend.CUDNN_ATTENTION, "SDPA cuDNN"), (SDPBackend.FLASH_ATTENTION, "SDPA flash"),
                          (SDPBackend.EFFICIENT_ATTENTION, "SDPA mem-efficient")]:
        try:
            with sdpa_kernel([backend]):
                F.scaled_dot_product_attention(q4, kt, vt, enable_gqa=True)
                t = bench_graph([lambda: F.scaled_dot_product_attention(q4, kt, vt, enable_gqa=True)], calls=10)
            print(f"  decode torch {name}: {t * 1e6:.1f} us", flush=True)
            if best is None or t < best:
                best, best_name = t, name
        except Exception as e:  # backend refuses this shape
            print(f"  decode torch {name}: unavailable ({str(e).splitlines()[0][:80]})", flush=True)
    add("paged decode", f"B={B} {HQ}/{HK}x{D} L={L} bs={BS}", ours, best, best_name + " (contiguous KV, graph)",
        bytes_=kbytes, ceil=ceil)
    del kt, vt
    return ours


def bench_cascade(lib, ceil, paged_decode_s):
    bf = torch.bfloat16
    B, HQ, HK, D, BS, P, S = 64, 32, 8, 128, 16, 4096, 128
    q = torch.randn(B, HQ, D, device="cuda", dtype=bf)
    o = torch.empty_like(q)
    gi = torch.tensor([0, B], dtype=torch.int32, device="cuda")
    pl = torch.tensor([P], dtype=torch.int32, device="cuda")
    sl = torch.full((B,), S, dtype=torch.int32, device="cuda")
    wsb = lib.rs_cascade_workspace_bytes(1, B, HQ, HK, D, B, P, S)
    ws = torch.empty(wsb, device="cuda", dtype=torch.uint8)

    def make(kv):  # one cache (about 50 MB); three of them rotate so L2 holds none
        counts = [len(t) for t in kv.tables]
        pre_indptr = torch.tensor([0, counts[0]], dtype=torch.int32, device="cuda")
        suf_indptr = torch.tensor([sum(counts[1:i + 1]) for i in range(B + 1)], dtype=torch.int32, device="cuda")
        flat = [b for t in kv.tables for b in t]
        pre_ids = torch.tensor(flat[:counts[0]], dtype=torch.int32, device="cuda")
        suf_ids = torch.tensor(flat[counts[0]:], dtype=torch.int32, device="cuda")
        keep = (kv, pre_indptr, suf_indptr, pre_ids, suf_ids)
        return lambda keep=keep: lib.rs_cascade(
            rs.BF16, rs.ptr(q), rs.ptr(o), None, rs.ptr(keep[0].k_cache), rs.ptr(keep[0].v_cache),
            keep[0].num_blocks, BS, HK, D, 1, rs.ptr(gi), rs.ptr(pl), rs.ptr(keep[1]), rs.ptr(keep[3]), B, rs.ptr(sl),
            rs.ptr(keep[2]), rs.ptr(keep[4]), HQ, 1 / math.sqrt(D), B, P, S, rs.ptr(ws), wsb, rs.stream())
    fns = [make(PagedKv([P] + [S] * B, HK, D, BS, bf, extra_blocks=0)) for _ in range(3)]
    # The shared-prefix pass on each prefill kernel this GPU has (wgmma on sm_90).
    # Default suffix handling (auto) on each path, then the other suffix modes (A/B).
    ours = {}
    for path in reversed(rs.prefill_paths()):
        lib.rs_set_prefill_path(path)
        ours[(path, rs.CASCADE_AUTO)] = bench_graph(fns, calls=12)
    best = rs.prefill_paths()[-1]
    lib.rs_set_prefill_path(best)
    for mode in (rs.CASCADE_LEGACY, rs.CASCADE_FUSED, rs.CASCADE_PDL):
        lib.rs_set_cascade_mode(mode)
        ours[(best, mode)] = bench_graph(fns, calls=12)
    lib.rs_set_cascade_mode(rs.CASCADE_AUTO)
    lib.rs_set_prefill_path(rs.PREFILL_AUTO)
    # Baseline: paged decode of the same 64 x (4096 + 128) keys without sharing.
    kv2 = PagedKv([P + S] * B, HK, D, BS, bf, extra_blocks=0)
    wsb2 = lib.rs_decode_workspace_bytes(B, HQ, HK, D, P + S)
    ws2 = torch.empty(max(wsb2, 1), device="cuda", dtype=torch.uint8)
    base = bench_graph([lambda: lib.rs_decode(
        rs.BF16, rs.ptr(q), rs.ptr(o), None, rs.ptr(kv2.k_cache), rs.ptr(kv2.v_cache), kv2.num_blocks, BS, HK, D, B,
        rs.ptr(kv2.kv_lens), rs.ptr(kv2.block_indptr), rs.ptr(kv2.block_ids), HQ, 1 / math.sqrt(D), P + S,
        rs.ptr(ws2), wsb2, rs.stream())], calls=10)
    mode_name = {rs.CASCADE_AUTO: "", rs.CASCADE_LEGACY: " legacy", rs.CASCADE_FUSED: " fused", rs.CASCADE_PDL: " pdl"}
    for (path, mode), t in ours.items():
        add(f"cascade decode {'wgmma' if path == rs.PREFILL_WGMMA else 'mma'}{mode_name[mode]}",
            f"B={B} prefix={P} suffix={S} {HQ}/{HK}x{D}",
            t, base, "our paged decode, no sharing (graph)", bytes_=2 * (P + B * S) * HK * D * 2, ceil=ceil)


def bench_prefill(lib, ceil):
    bf = torch.bfloat16
    st = rs.stream()
    B, H, L, D = 4, 32, 4096, 128
    flops = 4 * B * H * L * L * D / 2  # causal
    q = torch.randn(B * L, H, D, device="cuda", dtype=bf)
    k = torch.randn(B * L, H, D, device="cuda", dtype=bf)
    v = torch.randn(B * L, H, D, device="cuda", dtype=bf)
    o = torch.empty_like(q)
    indptr = torch.arange(0, (B + 1) * L, L, dtype=torch.int32, device="cuda")
    scale = 1 / math.sqrt(D)
    kv = PagedKv([L] * B, H, D, 16, bf, extra_blocks=0)

    def contig():
        lib.rs_prefill(rs.BF16, 1, rs.ptr(q), rs.ptr(o), None, rs.ptr(k), rs.ptr(v), 0, 16, H, D, B, rs.ptr(indptr),
                       None, None, None, rs.ptr(indptr), H, scale, 1, L, st)

    def paged():
        lib.rs_prefill(rs.BF16, 0, rs.ptr(q), rs.ptr(o), None, rs.ptr(kv.k_cache), rs.ptr(kv.v_cache),
                       kv.num_blocks, 16, H, D, B, rs.ptr(indptr), rs.ptr(kv.kv_lens), rs.ptr(kv.block_indptr),
                       rs.ptr(kv.block_ids), None, H, scale, 1, L, st)
    # Every kernel this GPU has (wgmma on sm_90, mma.sync everywhere), in the same run.
    ours = {}
    for path in reversed(rs.prefill_paths()):
        lib.rs_set_prefill_path(path)
        ours[path] = (bench(contig), bench(paged))
    lib.rs_set_prefill_path(rs.PREFILL_AUTO)
    qt = q.view(B, L, H, D).transpose(1, 2)
    kt = k.view(B, L, H, D).transpose(1, 2)
    vt = v.view(B, L, H, D).transpose(1, 2)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    results = {}
    for backend, name in [(SDPBackend.FLASH_ATTENTION, "SDPA flash"), (SDPBackend.CUDNN_ATTENTION, "SDPA cuDNN")]:
        try:
            with sdpa_kernel([backend]):
                F.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
                results[name] = bench(lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=True))
        except Exception as e:
            print(f"  prefill torch {name}: unavailable ({str(e).splitlines()[0][:80]})", flush=True)
    for path, (t_contig, t_paged) in ours.items():
        tag = "wgmma" if path == rs.PREFILL_WGMMA else "mma"
        for name, t in results.items():
            add(f"prefill causal contig {tag}", f"B={B} H={H} L={L} D={D}", t_contig, t, name, flops=flops, ceil=ceil)
        add(f"prefill causal paged {tag}", f"B={B} H={H} L={L} D={D} bs=16", t_paged, results.get("SDPA flash"),
            "SDPA flash (contiguous)", flops=flops, ceil=ceil)


def bench_quant(lib, ceil):
    K, N = 4096, 14336
    sets = 4  # 4 x 117 MB of bf16 weights (4 x 29 MB of INT4): each call misses L2
    for m in [1, 16, 64]:
        x = torch.randn(m, K, device="cuda", dtype=torch.bfloat16)
        wbs = [torch.randn(N, K, device="cuda", dtype=torch.bfloat16) for _ in range(sets)]
        t_torch = bench_graph([lambda w=w: x @ w.T for w in wbs])
        del wbs
        for quant, name in [(2, "int4 g128 tiled"), (1, "int4 g128"), (0, "int8")]:
            if quant in (1, 2):  # random bytes: the tiled layout has the same size when 8 divides N
                wqs = [torch.randint(0, 256, (N, K // 2), dtype=torch.uint8, device="cuda") for _ in range(sets)]
                scs = [torch.rand(N, K // 128, device="cuda").to(torch.bfloat16) for _ in range(sets)]
                wbytes = N * K // 2 + N * K // 128 * 2
            else:
                wqs = [torch.randint(0, 256, (N, K), dtype=torch.uint8, device="cuda") for _ in range(sets)]
                scs = [torch.rand(N, device="cuda").to(torch.bfloat16) for _ in range(sets)]
                wbytes = N * K
            y = torch.empty(m, N, device="cuda", dtype=torch.bfloat16)
            for path, pname in [(2, "mma"), (1, "gemv")]:
                if path == 1 and (m > 1 or quant == 2):
                    continue
                fns = [lambda wq=wq, sc=sc, path=path: lib.rs_quant_gemm(
                    quant, rs.ptr(x), rs.ptr(wq), rs.ptr(sc), None, rs.ptr(y), m, N, K, path, rs.stream())
                    for wq, sc in zip(wqs, scs)]
                ours = bench_graph(fns)
                add(f"gemm {name} {pname}", f"m={m} k={K} n={N}", ours, t_torch, "torch.matmul bf16 (graph)",
                    bytes_=wbytes + m * K * 2 + m * N * 2, ceil=ceil)


def bench_quant_down(lib, ceil):
    """m = 1 at the down projection's shape (k = 14336: several weight batches per warp)."""
    K, N, sets = 14336, 4096, 4
    x = torch.randn(1, K, device="cuda", dtype=torch.bfloat16)
    wbs = [torch.randn(N, K, device="cuda", dtype=torch.bfloat16) for _ in range(sets)]
    t_torch = bench_graph([lambda w=w: x @ w.T for w in wbs])
    del wbs
    wqs = [torch.randint(0, 256, (N, K // 2), dtype=torch.uint8, device="cuda") for _ in range(sets)]
    scs = [torch.rand(N, K // 128, device="cuda").to(torch.bfloat16) for _ in range(sets)]
    y = torch.empty(1, N, device="cuda", dtype=torch.bfloat16)
    for quant, name in [(2, "int4 g128 tiled"), (1, "int4 g128")]:
        fns = [lambda wq=wq, sc=sc, quant=quant: lib.rs_quant_gemm(
            quant, rs.ptr(x), rs.ptr(wq), rs.ptr(sc), None, rs.ptr(y), 1, N, K, 2, rs.stream()) for wq, sc in zip(wqs, scs)]
        add(f"gemm {name} mma", f"m=1 k={K} n={N}", bench_graph(fns), t_torch, "torch.matmul bf16 (graph)",
            bytes_=N * K // 2 + N * K // 128 * 2 + K * 2 + N * 2, ceil=ceil)


def bench_sampling(lib, ceil):
    B, V = 64, 128256
    logits = torch.randn(B, V, device="cuda") * 3
    temp = torch.full((B,), 0.8, device="cuda")
    top_k = torch.full((B,), 50, dtype=torch.int32, device="cuda")
    top_p = torch.full((B,), 0.9, device="cuda")
    seeds = torch.arange(B, dtype=torch.int64, device="cuda")
    offs = torch.zeros(B, dtype=torch.int64, device="cuda")
    out = torch.empty(B, dtype=torch.int32, device="cuda")
    wsb = lib.rs_sampling_workspace_bytes(B, V)
    ws = torch.empty(wsb, dtype=torch.uint8, device="cuda")
    st = rs.stream()
    ours = bench(lambda: lib.rs_sample(rs.ptr(logits), B, V, rs.ptr(temp), rs.ptr(top_k), rs.ptr(top_p), None,
                                       rs.ptr(seeds), rs.ptr(offs), rs.ptr(out), None, rs.ptr(ws), wsb, st))

    def torch_sample():
        p = torch.softmax(logits / 0.8, -1)
        v, i = torch.topk(p, 50)
        v = v / v.sum(-1, keepdim=True)
        c = torch.cumsum(v, -1)
        v = torch.where(c - v < 0.9, v, torch.zeros_like(v))
        return i.gather(1, torch.multinomial(v, 1))
    add("sampling top-k+top-p", f"B={B} V={V}", ours, bench(torch_sample), "eager softmax+topk+multinomial",
        bytes_=B * V * 4, ceil=ceil)


def print_table(ceil):
    print()
    print(f"Ceilings measured here: copy {ceil['copy_tbs']:.2f} TB/s, bf16 GEMM {ceil['gemm_tflops']:.0f} TFLOP/s")
    hdr = f"{'kernel':28} {'shape':36} {'ours us':>9} {'torch us':>9} {'speedup':>8}  {'achieved':>14} {'%ceil':>6}  torch ref"
    print(hdr)
    print("-" * len(hdr))
    for r in ROWS:
        ach = f"{r['ours_tbs']:.2f} TB/s" if "ours_tbs" in r else f"{r.get('ours_tflops', 0):.0f} TFLOP/s"
        tu = f"{r['torch_us']:.1f}" if r["torch_us"] else "-"
        sp = f"{r['speedup']:.2f}x" if r["speedup"] else "-"
        print(f"{r['kernel']:28} {r['shape']:36} {r['ours_us']:9.1f} {tu:>9} {sp:>8}  {ach:>14} {r['pct_ceiling']:5.0f}%  {r['torch']}")


def main():
    lib = rs.load_lib()
    torch.manual_seed(0)
    ceil = ceilings()
    only = os.environ.get("RS_BENCH_ONLY", "")
    steps = [("small", lambda: bench_small_ops(lib, ceil)), ("quant", lambda: bench_quant(lib, ceil)),
             ("quant", lambda: bench_quant_down(lib, ceil)),
             ("sampling", lambda: bench_sampling(lib, ceil)), ("prefill", lambda: bench_prefill(lib, ceil))]
    for name, fn in steps:
        if only and name not in only:
            continue
        try:
            fn()
        except Exception as e:
            print(f"bench {name} failed: {e}", flush=True)
        torch.cuda.empty_cache()
    if not only or "decode" in only:
        try:
            d = bench_decode(lib, ceil)
            bench_cascade(lib, ceil, d)
        except Exception as e:
            print(f"bench decode/cascade failed: {e}", flush=True)
    print_table(ceil)
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "bench.json"), "w") as f:
            json.dump({"ceilings": ceil, "rows": ROWS, "device": torch.cuda.get_device_name()}, f, indent=1)


if __name__ == "__main__":
    main()
