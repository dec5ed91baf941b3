"""RMSNorm (+ fused residual), silu_and_mul and RoPE against float64 PyTorch references."""
import math
import sys

import torch

import rs_cuda as rs

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def test_rmsnorm(lib, c):
    for dtype in DTYPES:
        for tokens, hidden in [(1, 4096), (7, 576), (33, 8192), (5, 64), (300, 2048), (2, 16384)]:
            for fused in (False, True):
                x = torch.randn(tokens, hidden, device="cuda", dtype=dtype)
                w = (1.0 + 0.1 * torch.randn(hidden, device="cuda")).to(dtype)
                r = torch.randn(tokens, hidden, device="cuda", dtype=dtype) if fused else None
                r_in = r.clone() if fused else None
                out = rs.poison(torch.empty_like(x))
                lib.rs_rmsnorm(rs.DTYPE_CODE[dtype], rs.ptr(x), rs.ptr(out), rs.ptr(r), rs.ptr(w), tokens, hidden,
                               1e-6, rs.stream())
                torch.cuda.synchronize()
                if fused:
                    r_ref = (x.double() + r_in.double()).to(dtype)
                    c.check(f"rmsnorm residual {dtype} {tokens}x{hidden}", r, r_ref.double(), rs.tol_for(dtype))
                    src = r_ref.double()
                else:
                    src = x.double()
                ref = src * torch.rsqrt(src.pow(2).mean(-1, keepdim=True) + 1e-6) * w.double()
                c.check(f"rmsnorm {'fused ' if fused else ''}{dtype} {tokens}x{hidden}", out, ref, rs.tol_for(dtype))


def test_silu(lib, c):
    for dtype in DTYPES:
        for tokens, d in [(1, 11008), (13, 14336), (3, 37), (64, 1536), (1000, 8)]:
            x = torch.randn(tokens, 2 * d, device="cuda", dtype=dtype) * 3
            out = rs.poison(torch.empty(tokens, d, device="cuda", dtype=dtype))
            lib.rs_silu_and_mul(rs.DTYPE_CODE[dtype], rs.ptr(x), rs.ptr(out), tokens, d, rs.stream())
            torch.cuda.synchronize()
            g, u = x.double()[:, :d], x.double()[:, d:]
            ref = g * torch.sigmoid(g) * u
            c.check(f"silu_and_mul {dtype} {tokens}x{d}", out, ref, rs.tol_for(dtype))


def inv_freq_ref(rotary_dim, theta, scaling, factor, low, high, orig):
    i = torch.arange(rotary_dim // 2, dtype=torch.float64)
    inv = theta ** (-2.0 * i / rotary_dim)
    if scaling == 1:
        inv = inv / factor
    elif scaling == 2:
        wavelen = 2 * math.pi / inv
        low_w, high_w = orig / low, orig / high
        smooth = (orig / wavelen - low) / (high - low)
        mid = (1 - smooth) * inv / factor + smooth * inv
        inv = torch.where(wavelen > low_w, inv / factor, torch.where(wavelen < high_w, inv, mid))
    return inv


def rope_ref(x, pos, rotary_dim, style, inv):
    # x: [T, H, D] float64
    ang = pos.double()[:, None] * inv[None, :].to(x.device)  # [T, rot/2]
    cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    y = x.clone()
    if style == 1:  # neox halves
        half = rotary_dim // 2
        a, b = x[..., :half], x[..., half:rotary_dim]
        y[..., :half] = a * cos - b * sin
        y[..., half:rotary_dim] = b * cos + a * sin
    else:  # normal: adjacent pairs
        a, b = x[..., 0:rotary_dim:2], x[..., 1:rotary_dim:2]
        y[..., 0:rotary_dim:2] = a * cos - b * sin
        y[..., 1:rotary_dim:2] = b * cos + a * sin
    return y


def test_rope(lib, c):
    cases = [
        # tokens, hq, hkv, d, rot, style, scaling, fused_qkv
        (1, 32, 8, 128, 128, 1, 0, False),
        (17, 9, 3, 64, 64, 0, 0, False),
        (300, 32, 8, 128, 128, 0, 2, True),
        (5, 4, 4, 128, 64, 1, 1, False),
        (129, 14, 2, 64, 64, 1, 2, True),
    ]
    for dtype in DTYPES:
        for tokens, hq, hkv, d, rot, style, scaling, fused in cases:
            theta = 500000.0 if scaling == 2 else 10000.0
            factor, low, high, orig = (8.0, 1.0, 4.0, 8192) if scaling == 2 else (2.0, 1.0, 4.0, 8192)
            pos = torch.randint(0, 131072, (tokens,), device="cuda", dtype=torch.int32)
            if fused:
                qkv = torch.randn(tokens, (hq + 2 * hkv) * d, device="cuda", dtype=dtype)
                q = qkv[:, : hq * d].view(tokens, hq, d)
                k = qkv[:, hq * d: (hq + hkv) * d].view(tokens, hkv, d)
                q_stride = k_stride = (hq + 2 * hkv) * d
                v_before = qkv[:, (hq + hkv) * d:].clone()
            else:
                q = torch.randn(tokens, hq, d, device="cuda", dtype=dtype)
                k = torch.randn(tokens, hkv, d, device="cuda", dtype=dtype)
                q_stride = k_stride = 0
            q_in, k_in = q.double().clone(), k.double().clone()
            lib.rs_rope(rs.DTYPE_CODE[dtype], style, rs.ptr(q), rs.ptr(k), rs.ptr(pos), tokens, hq, hkv, d, rot,
                        q_stride, k_stride, theta, scaling, factor, low, high, orig, rs.stream())
            torch.cuda.synchronize()
            inv = inv_freq_ref(rot, theta, scaling, factor, low, high, orig)
            name = f"rope {'neox' if style else 'normal'} scaling={scaling} {dtype} T={tokens} {hq}/{hkv}x{d} rot={rot}"
            c.check(name + " q", q, rope_ref(q_in, pos, rot, style, inv), rs.tol_for(dtype))
            c.check(name + " k", k, rope_ref(k_in, pos, rot, style, inv), rs.tol_for(dtype))
            if fused:
                c.expect(name + " v untouched", torch.equal(qkv[:, (hq + hkv) * d:], v_before))


def run(lib):
    c = rs.Checker("small_ops")
    test_rmsnorm(lib, c)
    test_silu(lib, c)
    test_rope(lib, c)
    return c.summary()


if __name__ == "__main__":
    sys.exit(1 if run(rs.load_lib()) else 0)
