"""RoPE fused with the KV write (ApplyRopeAndWriteKv) on fused QKV rows: equal to the
separate kernels (ApplyRope in place, then WriteKv) bit for bit, and to the float64 RoPE
reference within the dtype's tolerance; padding tokens (slot -1) write nothing."""
import ctypes
import sys

import torch

import rs_cuda as rs
from test_small_ops import inv_freq_ref, rope_ref

_P, _I, _I64, _F = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_float


def bind(lib):
    fn = lib._lib.rs_rope_write_kv
    fn.argtypes = [_I, _I, _P, _P, _P, _P, _P, _P, _P, _P, _I, _I, _I, _I, _I, _I64, _I64, _I, _I, _F, _P]
    fn.restype = _I
    return fn


def run(lib):
    c = rs.Checker("decode_glue")
    fused = bind(lib)
    cases = [  # tokens, hq, hkv, d, rot, style, block_size, blocks
        (1, 32, 8, 128, 128, 1, 16, 4), (37, 9, 3, 64, 32, 0, 8, 9), (300, 28, 4, 128, 128, 1, 1, 400),
        (17, 14, 2, 64, 64, 1, 16, 3), (5, 4, 4, 128, 64, 0, 16, 2),
    ]
    theta = 10000.0
    for dtype in [torch.bfloat16, torch.float16, torch.float32]:
        for tokens, hq, hkv, d, rot, style, bs, nblocks in cases:
            width = (hq + 2 * hkv) * d
            qkv = torch.randn(tokens, width, device="cuda", dtype=dtype)
            pos = torch.randint(0, 131072, (tokens,), device="cuda", dtype=torch.int32)
            slots = torch.randperm(nblocks * bs, device="cuda")[:tokens].to(torch.int32)
            if tokens > 2:
                slots[1] = -1  # a padding token
            kc = torch.randn(nblocks, hkv, bs, d, device="cuda", dtype=dtype)
            vc = torch.randn_like(kc)
            kc_ref, vc_ref = kc.clone(), vc.clone()
            q_out = rs.poison(torch.empty(tokens, hq, d, device="cuda", dtype=dtype))
            rc = fused(rs.DTYPE_CODE[dtype], style, rs.ptr(qkv), ctypes.c_void_p(qkv.data_ptr() + hq * d * qkv.element_size()),
                       ctypes.c_void_p(qkv.data_ptr() + (hq + hkv) * d * qkv.element_size()), rs.ptr(q_out), rs.ptr(kc),
                       rs.ptr(vc), rs.ptr(pos), rs.ptr(slots), tokens, hq, hkv, d, rot, width, width, nblocks, bs, theta,
                       rs.stream())
            # The separate kernels on a copy of the rows.
            ref_rows = qkv.clone()
            lib.rs_rope(rs.DTYPE_CODE[dtype], style, rs.ptr(ref_rows),
                        ctypes.c_void_p(ref_rows.data_ptr() + hq * d * ref_rows.element_size()), rs.ptr(pos), tokens,
                        hq, hkv, d, rot, width, width, theta, 0, 1.0, 1.0, 4.0, 8192, rs.stream())
            k_new = ref_rows[:, hq * d:(hq + hkv) * d]
            v_new = ref_rows[:, (hq + hkv) * d:]
            lib.rs_write_kv(rs.DTYPE_CODE[dtype], rs.ptr(k_new), rs.ptr(v_new), rs.ptr(kc_ref), rs.ptr(vc_ref), nblocks,
                            bs, hkv, d, rs.ptr(slots), tokens, width, width, rs.stream())
            torch.cuda.synchronize()
            name = f"{'neox' if style else 'normal'} {dtype} T={tokens} {hq}/{hkv}x{d} rot={rot} bs={bs}"
            c.expect(name + " launch", rc == 0, lib._lib.rs_last_error().decode())
            c.expect(name + " q == separate kernels", torch.equal(q_out, ref_rows[:, :hq * d].view(tokens, hq, d)))
            c.expect(name + " caches == separate kernels", torch.equal(kc, kc_ref) and torch.equal(vc, vc_ref))
            inv = inv_freq_ref(rot, theta, 0, 1.0, 1.0, 4.0, 8192)
            q_ref = rope_ref(qkv[:, :hq * d].view(tokens, hq, d).double(), pos, rot, style, inv)
            c.check(name + " q vs float64", q_out, q_ref, rs.tol_for(dtype))
            k_ref = rope_ref(qkv[:, hq * d:(hq + hkv) * d].view(tokens, hkv, d).double(), pos, rot, style, inv)
            got = torch.stack([kc[s // bs, :, s % bs, :] for s in slots.tolist() if s >= 0])
            want = torch.stack([k_ref[t] for t, s in enumerate(slots.tolist()) if s >= 0])
            c.check(name + " k in cache vs float64", got, want, rs.tol_for(dtype))
    return c.summary()


if __name__ == "__main__":
    sys.exit(1 if run(rs.load_lib()) else 0)
