"""Paged decode, prefill (paged and contiguous KV, causal, varlen, cached prefix, GQA) and
cascade (radix) decode against float64 PyTorch attention. Unused cache slots are NaN, so
a kernel that reads past a sequence's keys fails."""
import math
import random
import sys

import torch

import rs_cuda as rs


class PagedKv:
    """Random per-sequence K/V scattered into a NaN-filled paged cache through shuffled block tables."""

    def __init__(self, lens, hkv, d, bs, dtype, extra_blocks=3):
        self.lens, self.hkv, self.d, self.bs = lens, hkv, d, bs
        counts = [(n + bs - 1) // bs for n in lens]
        self.num_blocks = sum(counts) + extra_blocks
        perm = torch.randperm(self.num_blocks).tolist()
        self.tables, pos = [], 0
        for cnt in counts:
            self.tables.append(perm[pos: pos + cnt])
            pos += cnt
        self.k_cache = torch.full((self.num_blocks, hkv, bs, d), float("nan"), device="cuda", dtype=dtype)
        self.v_cache = torch.full_like(self.k_cache, float("nan"))
        self.k, self.v = [], []
        for n, table in zip(lens, self.tables):
            k = torch.randn(n, hkv, d, device="cuda").to(dtype)
            v = torch.randn(n, hkv, d, device="cuda").to(dtype)
            self.k.append(k)
            self.v.append(v)
            if n:
                t = torch.arange(n, device="cuda")
                blk = torch.tensor(table, device="cuda", dtype=torch.long)[t // bs]
                self.k_cache[blk, :, t % bs, :] = k
                self.v_cache[blk, :, t % bs, :] = v
        self.kv_lens = torch.tensor(lens, dtype=torch.int32, device="cuda")
        self.block_indptr = torch.tensor([0] + list(_cumsum(counts)), dtype=torch.int32, device="cuda")
        flat = [b for t in self.tables for b in t]
        self.block_ids = torch.tensor(flat if flat else [0], dtype=torch.int32, device="cuda")


def _cumsum(xs):
    s = 0
    for x in xs:
        s += x
        yield s


def ref_attention(q, k, v, causal, scale):
    """q [Lq, Hq, D], k/v [Lk, Hkv, D] -> (out [Lq, Hq, D] float64, lse [Lq, Hq])."""
    hq, hkv = q.shape[1], k.shape[1]
    g = hq // hkv
    dt = torch.float64 if q.shape[0] * k.shape[0] * hq <= 2**27 else torch.float32
    qd, kd, vd = q.to(dt), k.to(dt).repeat_interleave(g, 1), v.to(dt).repeat_interleave(g, 1)
    s = torch.einsum("qhd,khd->hqk", qd, kd) * scale
    if causal:
        lq, lk = q.shape[0], k.shape[0]
        i = torch.arange(lq, device=q.device)[:, None]
        j = torch.arange(lk, device=q.device)[None, :]
        s = s.masked_fill(j > (lk - lq + i), float("-inf"))
    lse = torch.logsumexp(s, -1)  # [H, Lq]
    o = torch.einsum("hqk,khd->qhd", torch.softmax(s, -1), vd)
    return o.double(), lse.T.double()


def test_decode(lib, c):
    cases = [
        # lens, hq, hkv, d, bs
        ([1], 32, 8, 128, 16),
        ([15, 16, 17, 1000, 4096], 32, 8, 128, 16),
        ([random.randint(1, 3000) for _ in range(12)], 9, 3, 64, 16),
        ([54, 97, 33], 8, 8, 128, 1),
        ([33000, 7], 28, 4, 128, 16),
        ([4096] * 64, 32, 8, 128, 16),
        ([random.randint(1, 300) for _ in range(17)], 16, 2, 64, 8),
    ]
    for dtype in [torch.bfloat16, torch.float16]:
        for lens, hq, hkv, d, bs in cases:
            if dtype == torch.float16 and len(lens) == 64:
                continue
            kv = PagedKv(lens, hkv, d, bs, dtype)
            b = len(lens)
            q = torch.randn(b, hq, d, device="cuda").to(dtype)
            o = rs.poison(torch.empty(b, hq, d, device="cuda", dtype=dtype))
            lse = rs.poison(torch.empty(b, hq, device="cuda"))
            ws_bytes = lib.rs_decode_workspace_bytes(b, hq, hkv, d, max(lens))
            ws = torch.empty(max(ws_bytes, 1), device="cuda", dtype=torch.uint8)
            scale = 1.0 / math.sqrt(d)
            lib.rs_decode(rs.DTYPE_CODE[dtype], rs.ptr(q), rs.ptr(o), rs.ptr(lse), rs.ptr(kv.k_cache), rs.ptr(kv.v_cache),
                          kv.num_blocks, bs, hkv, d, b, rs.ptr(kv.kv_lens), rs.ptr(kv.block_indptr), rs.ptr(kv.block_ids),
                          hq, scale, max(lens), rs.ptr(ws), ws_bytes, rs.stream())
            torch.cuda.synchronize()
            refs = [ref_attention(q[i: i + 1], kv.k[i], kv.v[i], False, scale) for i in range(b)]
            ref_o = torch.cat([r[0] for r in refs])
            ref_lse = torch.cat([r[1] for r in refs])
            lens_s = str(lens) if len(lens) <= 5 else f"{len(lens)} seqs, max {max(lens)}"
            name = f"decode {dtype} {hq}/{hkv}x{d} bs={bs} lens={lens_s}"
            c.check(name + " o", o, ref_o, 1e-2)
            c.check(name + " lse", lse, ref_lse, 1e-4)


PATH_NAME = {rs.PREFILL_AUTO: "auto", rs.PREFILL_MMA: "mma", rs.PREFILL_WGMMA: "wgmma"}


def run_prefill(lib, c, q_lens, kv_lens, hq, hkv, d, bs, dtype, source, causal=True, path=rs.PREFILL_AUTO):
    lib.rs_set_prefill_path(path)
    kv = PagedKv(kv_lens, hkv, d, bs, dtype)
    b = len(q_lens)
    total_q = sum(q_lens)
    q = torch.randn(total_q, hq, d, device="cuda").to(dtype)
    o = rs.poison(torch.empty_like(q))
    lse = rs.poison(torch.empty(total_q, hq, device="cuda"))
    q_indptr = torch.tensor([0] + list(_cumsum(q_lens)), dtype=torch.int32, device="cuda")
    kv_indptr = torch.tensor([0] + list(_cumsum(kv_lens)), dtype=torch.int32, device="cuda")
    k_cont = torch.cat(kv.k) if sum(kv_lens) else torch.zeros(1, hkv, d, device="cuda", dtype=dtype)
    v_cont = torch.cat(kv.v) if sum(kv_lens) else torch.zeros(1, hkv, d, device="cuda", dtype=dtype)
    scale = 1.0 / math.sqrt(d)
    if source == 0:
        kp, vp = kv.k_cache, kv.v_cache
    else:
        kp, vp = k_cont, v_cont
    lib.rs_prefill(rs.DTYPE_CODE[dtype], source, rs.ptr(q), rs.ptr(o), rs.ptr(lse), rs.ptr(kp), rs.ptr(vp),
                   kv.num_blocks, bs, hkv, d, b, rs.ptr(q_indptr), rs.ptr(kv.kv_lens), rs.ptr(kv.block_indptr),
                   rs.ptr(kv.block_ids), rs.ptr(kv_indptr), hq, scale, 1 if causal else 0, max(q_lens), rs.stream())
    torch.cuda.synchronize()
    ref_o, ref_lse = [], []
    for i in range(b):
        qs = q[q_indptr[i]: q_indptr[i + 1]]
        ro, rl = ref_attention(qs, kv.k[i], kv.v[i], causal, scale)
        ref_o.append(ro)
        ref_lse.append(rl)
    ref_o, ref_lse = torch.cat(ref_o), torch.cat(ref_lse)
    qs = str(q_lens) if len(q_lens) <= 4 else f"{len(q_lens)} seqs"
    name = (f"prefill[{PATH_NAME[path]}] {'paged' if source == 0 else 'contig'} {'causal' if causal else 'full'} {dtype} "
            f"{hq}/{hkv}x{d} bs={bs} q={qs} kv={kv_lens if len(kv_lens) <= 4 else '...'}")
    c.check(name + " o", o, ref_o, 1e-2)
    c.check(name + " lse", lse, ref_lse, 1e-4)


def test_prefill(lib, c):
    cases = [
        # q_lens, prefix lens, hq, hkv, d, bs
        ([1], [0], 32, 8, 128, 16),
        ([1, 17, 64, 100], [0, 0, 0, 0], 32, 8, 128, 16),
        ([5, 31, 128], [16, 100, 3], 9, 3, 64, 16),
        ([63, 65, 1], [1, 15, 4095], 28, 4, 128, 16),
        ([200, 77], [33, 0], 8, 8, 64, 1),
        ([random.randint(1, 300) for _ in range(12)], [random.randint(0, 500) for _ in range(12)], 16, 2, 128, 8),
        ([2048], [0], 8, 2, 128, 16),
        ([1000], [3000], 32, 8, 128, 16),
        # The wgmma path's tiles are 128 packed query rows x 128 keys: lengths off those
        # multiples, prefixes ending just before / at / after a key tile, GQA groups of 7
        # and 4 whose packed rows straddle row tiles mid-token, head_dim 64, long MHA.
        ([129, 255, 383], [0, 127, 129], 32, 32, 128, 16),
        ([37, 300, 2], [128, 1, 255], 28, 4, 128, 16),
        ([131, 513], [250, 0], 16, 4, 64, 8),
        ([1024, 700], [0, 1000], 8, 8, 128, 16),
        ([4096], [0], 4, 4, 128, 16),
    ]
    for path in rs.prefill_paths():
        for dtype in [torch.bfloat16, torch.float16]:
            for q_lens, prefix, hq, hkv, d, bs in cases:
                kv_lens = [a + b for a, b in zip(q_lens, prefix)]
                for source in (0, 1):
                    if dtype == torch.float16 and source == 1 and len(q_lens) > 4:
                        continue
                    run_prefill(lib, c, q_lens, kv_lens, hq, hkv, d, bs, dtype, source, path=path)
        # Non-causal (the cascade's prefix pass).
        run_prefill(lib, c, [7, 64, 1], [300, 64, 5], 32, 8, 128, 16, torch.bfloat16, 0, causal=False, path=path)
        run_prefill(lib, c, [200, 129], [200, 199], 16, 4, 64, 16, torch.float16, 1, causal=False, path=path)
    lib.rs_set_prefill_path(rs.PREFILL_AUTO)


def run_cascade(lib, c, groups, hq, hkv, d, bs, dtype, max_suffix=200, tag=""):
    """groups: list of (group_size, prefix_len)."""
    seq_suffix = []
    for gsize, _ in groups:
        seq_suffix += [random.randint(0, max_suffix) for _ in range(gsize)]
    # Sequences with an empty prefix need at least one key.
    idx = 0
    for gsize, plen in groups:
        for j in range(gsize):
            if plen == 0 and seq_suffix[idx + j] == 0:
                seq_suffix[idx + j] = 1
        idx += gsize
    prefix_lens = [p for _, p in groups]
    # One pool holds prefixes first, then suffixes.
    kv = PagedKv(prefix_lens + seq_suffix, hkv, d, bs, dtype)
    ng, ns = len(groups), len(seq_suffix)
    counts = [len(t) for t in kv.tables]
    indptr = [0] + list(_cumsum(counts))
    pre_indptr = torch.tensor(indptr[: ng + 1], dtype=torch.int32, device="cuda")
    suf_indptr = torch.tensor([x - indptr[ng] for x in indptr[ng:]], dtype=torch.int32, device="cuda")
    flat = [b for t in kv.tables for b in t]
    pre_ids = torch.tensor(flat[: indptr[ng]] or [0], dtype=torch.int32, device="cuda")
    suf_ids = torch.tensor(flat[indptr[ng]:] or [0], dtype=torch.int32, device="cuda")
    group_indptr = torch.tensor([0] + list(_cumsum([g for g, _ in groups])), dtype=torch.int32, device="cuda")
    pre_lens = torch.tensor(prefix_lens, dtype=torch.int32, device="cuda")
    suf_lens = torch.tensor(seq_suffix, dtype=torch.int32, device="cuda")
    q = torch.randn(ns, hq, d, device="cuda").to(dtype)
    o = rs.poison(torch.empty_like(q))
    lse = rs.poison(torch.empty(ns, hq, device="cuda"))
    ws_bytes = lib.rs_cascade_workspace_bytes(ng, ns, hq, hkv, d, max(g for g, _ in groups), max(prefix_lens), max(seq_suffix))
    ws = torch.empty(ws_bytes, device="cuda", dtype=torch.uint8)
    scale = 1.0 / math.sqrt(d)
    lib.rs_cascade(rs.DTYPE_CODE[dtype], rs.ptr(q), rs.ptr(o), rs.ptr(lse), rs.ptr(kv.k_cache), rs.ptr(kv.v_cache),
                   kv.num_blocks, bs, hkv, d, ng, rs.ptr(group_indptr), rs.ptr(pre_lens), rs.ptr(pre_indptr),
                   rs.ptr(pre_ids), ns, rs.ptr(suf_lens), rs.ptr(suf_indptr), rs.ptr(suf_ids), hq, scale,
                   max(g for g, _ in groups), max(prefix_lens), max(seq_suffix), rs.ptr(ws), ws_bytes, rs.stream())
    torch.cuda.synchronize()
    ref_o, ref_lse = [], []
    s = 0
    for gi, (gsize, _) in enumerate(groups):
        for _ in range(gsize):
            k = torch.cat([kv.k[gi], kv.k[ng + s]])
            v = torch.cat([kv.v[gi], kv.v[ng + s]])
            ro, rl = ref_attention(q[s: s + 1], k, v, False, scale)
            ref_o.append(ro)
            ref_lse.append(rl)
            s += 1
    name = f"cascade{tag} {dtype} {hq}/{hkv}x{d} bs={bs} groups={groups if len(groups) <= 4 else f'{len(groups)} groups'}"
    c.check(name + " o", o, torch.cat(ref_o), 1e-2)
    c.check(name + " lse", lse, torch.cat(ref_lse), 1e-4)


CASCADE_MODE_NAME = {rs.CASCADE_AUTO: "auto", rs.CASCADE_LEGACY: "legacy", rs.CASCADE_FUSED: "fused",
                     rs.CASCADE_PDL: "pdl"}


def test_cascade(lib, c):
    # The shared-prefix pass runs on the prefill tiles (split-KV partials + merge): both
    # kernels; the suffixes either through the legacy side-stream decode + merge or the
    # fused suffix-and-merge kernel (auto = fused with the programmatic launch where the
    # prefix runs on wgmma, legacy on the mma.sync prefix).
    for path in rs.prefill_paths():
        lib.rs_set_prefill_path(path)
        for mode in (rs.CASCADE_AUTO, rs.CASCADE_LEGACY, rs.CASCADE_FUSED, rs.CASCADE_PDL):
            lib.rs_set_cascade_mode(mode)
            tag = f"[{PATH_NAME[path]},{CASCADE_MODE_NAME[mode]}]"
            run_cascade(lib, c, [(4, 100), (1, 37), (3, 0), (8, 4096)], 32, 8, 128, 16, torch.bfloat16, tag=tag)
            run_cascade(lib, c, [(5, 17), (2, 1)], 9, 3, 64, 16, torch.float16, tag=tag)
            run_cascade(lib, c, [(64, 4096)], 32, 8, 128, 16, torch.bfloat16, max_suffix=128, tag=tag)
            run_cascade(lib, c, [(3, 50), (2, 64)], 16, 2, 128, 1, torch.bfloat16, max_suffix=30, tag=tag)
            # Prefixes that split into chunks ending mid-tile (300, 1000) and a long one with GQA 7.
            run_cascade(lib, c, [(6, 1000), (2, 300)], 28, 4, 128, 16, torch.bfloat16, max_suffix=40, tag=tag)
            run_cascade(lib, c, [(9, 2500)], 16, 4, 64, 8, torch.float16, max_suffix=20, tag=tag)
        lib.rs_set_cascade_mode(rs.CASCADE_AUTO)
        tag = f"[{PATH_NAME[path]},auto]"
        # Fused kernel edges: suffixes of several 128-key steps per CTA (up to the fused
        # limit, 512), all suffixes empty, 32 query heads per KV head (two 16-row tiles),
        # many groups of random sizes; and past the limit (legacy under auto).
        run_cascade(lib, c, [(5, 700), (2, 0)], 16, 4, 128, 16, torch.float16, max_suffix=512, tag=tag)
        run_cascade(lib, c, [(4, 300), (3, 129)], 32, 8, 128, 16, torch.bfloat16, max_suffix=0, tag=tag)
        run_cascade(lib, c, [(3, 200), (2, 0)], 32, 1, 64, 16, torch.bfloat16, max_suffix=300, tag=tag)
        run_cascade(lib, c, [(random.randint(1, 6), random.randint(0, 600)) for _ in range(40)], 8, 2, 128, 16,
                    torch.bfloat16, max_suffix=150, tag=tag)
        run_cascade(lib, c, [(3, 300), (2, 50)], 32, 8, 128, 16, torch.bfloat16, max_suffix=1500, tag=tag)
    lib.rs_set_prefill_path(rs.PREFILL_AUTO)


def test_merge_state(lib, c):
    """Two decode states over disjoint key halves merge into the state over all keys."""
    for dtype in [torch.float32, torch.bfloat16]:
        rows, h, d = 7, 12, 128
        q = torch.randn(rows, h, d, device="cuda")
        k = torch.randn(rows, 300, d, device="cuda")
        v = torch.randn(rows, 300, d, device="cuda")
        s = torch.einsum("rhd,rkd->rhk", q.double(), k.double()) / math.sqrt(d)
        def state(sl):
            ss = s[..., sl]
            return torch.einsum("rhk,rkd->rhd", torch.softmax(ss, -1), v.double()[:, sl]), torch.logsumexp(ss, -1)
        oa, la = state(slice(0, 123))
        ob, lb = state(slice(123, 300))
        ob_t = ob.to(dtype)
        oa_t = oa.to(dtype).contiguous()
        la_t, lb_t = la.float().contiguous(), lb.float().contiguous()
        la_t[0, 0] = float("-inf")  # an empty state on one side
        ref_o, ref_l = state(slice(0, 300))
        ref_o[0, 0], ref_l[0, 0] = ob[0, 0], lb[0, 0]
        lib.rs_merge_state(rs.DTYPE_CODE[dtype], rs.ptr(oa_t), rs.ptr(la_t), rs.ptr(ob_t), rs.ptr(lb_t), rows, h, d,
                           rs.stream())
        torch.cuda.synchronize()
        c.check(f"merge_state {dtype} o", oa_t, ref_o, rs.tol_for(dtype) if dtype == torch.float32 else 1e-2)
        c.check(f"merge_state {dtype} lse", la_t, ref_l, 1e-5)


def run(lib):
    random.seed(torch.seed() % 2**32)
    c = rs.Checker("attention")
    test_decode(lib, c)
    test_prefill(lib, c)
    test_cascade(lib, c)
    test_merge_state(lib, c)
    return c.summary()


if __name__ == "__main__":
    sys.exit(1 if run(rs.load_lib()) else 0)
