"""KV write into paged blocks, block copy and device<->host swap against index arithmetic."""
import ctypes
import sys

import torch

import rs_cuda as rs


def test_write_kv(lib, c):
    for dtype in [torch.bfloat16, torch.float16, torch.float32]:
        for tokens, hkv, d, bs, nblocks in [(1, 8, 128, 16, 4), (37, 2, 64, 16, 9), (300, 8, 128, 1, 400), (33, 3, 64, 8, 40)]:
            kc = torch.randn(nblocks, hkv, bs, d, device="cuda", dtype=dtype)
            vc = torch.randn(nblocks, hkv, bs, d, device="cuda", dtype=dtype)
            # fused [T, (hkv k | hkv v)] buffer to exercise the token strides
            kv_new = torch.randn(tokens, 2 * hkv * d, device="cuda", dtype=dtype)
            k_new = kv_new[:, : hkv * d]
            v_new = kv_new[:, hkv * d:]
            slots = torch.randperm(nblocks * bs, device="cuda")[:tokens].to(torch.int32)
            if tokens > 2:
                slots[1] = -1  # padding token
            k_ref, v_ref = kc.clone(), vc.clone()
            for t in range(tokens):
                s = int(slots[t])
                if s < 0:
                    continue
                k_ref[s // bs, :, s % bs, :] = k_new[t].view(hkv, d)
                v_ref[s // bs, :, s % bs, :] = v_new[t].view(hkv, d)
            lib.rs_write_kv(rs.DTYPE_CODE[dtype], rs.ptr(k_new), rs.ptr(v_new), rs.ptr(kc), rs.ptr(vc), nblocks, bs,
                            hkv, d, rs.ptr(slots), tokens, 2 * hkv * d, 2 * hkv * d, rs.stream())
            torch.cuda.synchronize()
            c.expect(f"write_kv {dtype} T={tokens} hkv={hkv} d={d} bs={bs}", torch.equal(kc, k_ref) and torch.equal(vc, v_ref))


def test_copy_blocks(lib, c):
    nblocks, per_block = 64, 8 * 16 * 128
    pools = [torch.randn(nblocks, per_block, device="cuda", dtype=torch.bfloat16) for _ in range(6)]
    refs = [p.clone() for p in pools]
    pairs = torch.tensor([[0, 5], [7, 3], [63, 62], [10, 11]], dtype=torch.int32)
    for r in refs:
        for s, d in pairs.tolist():
            r[d] = r[s]
    ptrs = torch.tensor([p.data_ptr() for p in pools], dtype=torch.int64, device="cuda")
    pairs_d = pairs.cuda()
    lib.rs_copy_blocks(rs.ptr(ptrs), len(pools), per_block * 2, rs.ptr(pairs_d), pairs.shape[0], rs.stream())
    torch.cuda.synchronize()
    c.expect("copy_blocks 6 pools x 4 pairs", all(torch.equal(p, r) for p, r in zip(pools, refs)))


def test_swap(lib, c):
    nblocks, per_block, npools = 32, 4 * 16 * 64, 4
    dev = [torch.randn(nblocks, per_block, device="cuda", dtype=torch.float16) for _ in range(npools)]
    host = [torch.zeros(nblocks, per_block, dtype=torch.float16).pin_memory() for _ in range(npools)]
    # runs: 3,4,5 -> 10,11,12 (one copy), 9 -> 0, 20 -> 31
    pairs = torch.tensor([[3, 10], [4, 11], [5, 12], [9, 0], [20, 31]], dtype=torch.int32)

    def arr(ts):
        return (ctypes.c_void_p * len(ts))(*[t.data_ptr() for t in ts])

    lib.rs_swap_blocks(arr(dev), arr(host), npools, per_block * 2, rs.ptr(pairs), pairs.shape[0], rs.stream())
    torch.cuda.synchronize()
    ok = all(torch.equal(host[l][d], dev[l][s].cpu()) for l in range(npools) for s, d in pairs.tolist())
    c.expect("swap out device->host", ok)
    # and back into different device blocks
    back = torch.tensor([[10, 1], [11, 2], [0, 30]], dtype=torch.int32)
    dev_before = [t.clone() for t in dev]
    lib.rs_swap_blocks(arr(host), arr(dev), npools, per_block * 2, rs.ptr(back), back.shape[0], rs.stream())
    torch.cuda.synchronize()
    ok = all(torch.equal(dev[l][d].cpu(), host[l][s]) for l in range(npools) for s, d in back.tolist())
    untouched = all(torch.equal(dev[l][b], dev_before[l][b]) for l in range(npools) for b in [0, 3, 4, 31])
    c.expect("swap in host->device", ok and untouched)


def run(lib):
    c = rs.Checker("memory_ops")
    test_write_kv(lib, c)
    test_copy_blocks(lib, c)
    test_swap(lib, c)
    return c.summary()


if __name__ == "__main__":
    sys.exit(1 if run(rs.load_lib()) else 0)
