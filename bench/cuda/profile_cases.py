"""Runs one instance of a few hot kernels (after a warm-up) for Nsight Compute:
  ncu --clock-control none --section SpeedOfLight --section Occupancy \\
      --section WarpStateStats python3 bench/cuda/profile_cases.py --lib LIB
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "cuda"))
import rs_cuda as rs  # noqa: E402
from test_attention import PagedKv  # noqa: E402


def main():
    lib = rs.load_lib()
    st = rs.stream()
    bf = torch.bfloat16
    # Paged decode, bench shape.
    B, HQ, HK, D, BS, L = 64, 32, 8, 128, 16, 4096
    kv = PagedKv([L] * B, HK, D, BS, bf, extra_blocks=0)
    q = torch.randn(B, HQ, D, device="cuda", dtype=bf)
    o = torch.empty_like(q)
    wsb = lib.rs_decode_workspace_bytes(B, HQ, HK, D, L)
    ws = torch.empty(max(wsb, 1), device="cuda", dtype=torch.uint8)
    for _ in range(2):
        lib.rs_decode(rs.BF16, rs.ptr(q), rs.ptr(o), None, rs.ptr(kv.k_cache), rs.ptr(kv.v_cache), kv.num_blocks, BS,
                      HK, D, B, rs.ptr(kv.kv_lens), rs.ptr(kv.block_indptr), rs.ptr(kv.block_ids), HQ, 1 / math.sqrt(D),
                      L, rs.ptr(ws), wsb, st)
    del kv
    # INT4 m=1, the tiled layout the backend uses (random bytes: same size as N % 8 == 0).
    K, N = 4096, 14336
    x = torch.randn(1, K, device="cuda", dtype=bf)
    wq = torch.randint(0, 256, (N, K // 2), dtype=torch.uint8, device="cuda")
    sc = torch.rand(N, K // 128, device="cuda").to(bf)
    y = torch.empty(1, N, device="cuda", dtype=bf)
    for _ in range(2):
        lib.rs_quant_gemm(2, rs.ptr(x), rs.ptr(wq), rs.ptr(sc), None, rs.ptr(y), 1, N, K, 0, st)
    # Cascade: 64 sequences sharing a 4096-token prefix, 128-token suffixes.
    B, HQ, HK, D, BS, P, S = 64, 32, 8, 128, 16, 4096, 128
    kv = PagedKv([P] + [S] * B, HK, D, BS, bf, extra_blocks=0)
    counts = [len(t) for t in kv.tables]
    flat = [b for t in kv.tables for b in t]
    pre_indptr = torch.tensor([0, counts[0]], dtype=torch.int32, device="cuda")
    suf_indptr = torch.tensor([sum(counts[1:i + 1]) for i in range(B + 1)], dtype=torch.int32, device="cuda")
    pre_ids = torch.tensor(flat[:counts[0]], dtype=torch.int32, device="cuda")
    suf_ids = torch.tensor(flat[counts[0]:], dtype=torch.int32, device="cuda")
    gi = torch.tensor([0, B], dtype=torch.int32, device="cuda")
    pl = torch.tensor([P], dtype=torch.int32, device="cuda")
    sl = torch.full((B,), S, dtype=torch.int32, device="cuda")
    q = torch.randn(B, HQ, D, device="cuda", dtype=bf)
    o = torch.empty_like(q)
    wsb = lib.rs_cascade_workspace_bytes(1, B, HQ, HK, D, B, P, S)
    ws = torch.empty(wsb, device="cuda", dtype=torch.uint8)
    for _ in range(2):
        lib.rs_cascade(rs.BF16, rs.ptr(q), rs.ptr(o), None, rs.ptr(kv.k_cache), rs.ptr(kv.v_cache), kv.num_blocks, BS,
                       HK, D, 1, rs.ptr(gi), rs.ptr(pl), rs.ptr(pre_indptr), rs.ptr(pre_ids), B, rs.ptr(sl),
                       rs.ptr(suf_indptr), rs.ptr(suf_ids), HQ, 1 / math.sqrt(D), B, P, S, rs.ptr(ws), wsb, st)
    # RMSNorm without residual.
    xr = torch.randn(16384, 4096, device="cuda", dtype=bf)
    wr = torch.randn(4096, device="cuda", dtype=bf)
    outr = torch.empty_like(xr)
    for _ in range(2):
        lib.rs_rmsnorm(rs.BF16, rs.ptr(xr), rs.ptr(outr), None, rs.ptr(wr), 16384, 4096, 1e-6, st)
    # Prefill, contiguous, bench shape.
    B, H, L, D = 4, 32, 4096, 128
    q = torch.randn(B * L, H, D, device="cuda", dtype=bf)
    k = torch.randn_like(q)
    v = torch.randn_like(q)
    o = torch.empty_like(q)
    ind = torch.arange(0, (B + 1) * L, L, dtype=torch.int32, device="cuda")
    for _ in range(2):
        lib.rs_prefill(rs.BF16, 1, rs.ptr(q), rs.ptr(o), None, rs.ptr(k), rs.ptr(v), 0, 16, H, D, B, rs.ptr(ind), None,
                       None, None, rs.ptr(ind), H, 1 / math.sqrt(D), 1, L, st)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
