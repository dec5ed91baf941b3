"""Dense bf16 GEMV (decode-sized batches) against float64 matmul: plain, with bias, with
the fused RMSNorm of x, with the residual epilogue (also in place), chained as in a decode
step; and its argument checks."""
import ctypes
import sys

import torch

import rs_cuda as rs

_P, _I, _F = ctypes.c_void_p, ctypes.c_int, ctypes.c_float


def bind(lib):
    fn = lib._lib.rs_dense_gemv
    fn.argtypes = [_P, _P, _P, _P, _I, _I, _I, _I, _P, _F, _P, _P]
    fn.restype = _I

    def call(x, w, bias, y, out_f32, m, n, k, norm=None, eps=1e-5, residual=None):
        return fn(rs.ptr(x) if isinstance(x, torch.Tensor) else x, rs.ptr(w), rs.ptr(bias), rs.ptr(y), int(out_f32),
                  m, n, k, rs.ptr(norm), eps, rs.ptr(residual), rs.stream())
    return call


def rmsnorm_ref(x, g, eps):
    """RmsNorm's rounding: float math, the normalized row rounded to bf16."""
    xd = x.double()
    inv = torch.rsqrt((xd * xd).mean(dim=1, keepdim=True) + eps)
    return (xd * inv * g.double()).to(torch.bfloat16).double()


def run(lib):
    c = rs.Checker("dense_gemv")
    gemv = bind(lib)
    cases = [  # m, n, k, bias, out_f32, norm, residual
        (1, 4096, 4096, False, False, False, False), (1, 6144, 4096, True, False, True, False),
        (1, 1024, 4096, False, False, False, True), (2, 28672, 4096, False, False, True, False),
        (1, 4096, 14336, False, False, False, True), (3, 1000, 520, True, False, True, True),
        (4, 77, 1032, False, True, True, False), (5, 3584, 3584, True, False, False, True),
        (6, 9, 8, False, False, True, False), (7, 513, 2056, True, True, False, False),
        (8, 4096, 14336, False, False, True, True), (1, 128256, 4096, False, True, True, False),
        (8, 33, 4096, True, True, False, False), (2, 1, 16, False, False, False, False),
    ]
    for i, (m, n, k, with_bias, out_f32, with_norm, with_res) in enumerate(cases):
        x = torch.randn(m, k, device="cuda").to(torch.bfloat16)
        w = (torch.randn(n, k, device="cuda") * 0.05).to(torch.bfloat16)
        bias = torch.randn(n, device="cuda").to(torch.bfloat16) if with_bias else None
        g = (torch.rand(k, device="cuda") + 0.5).to(torch.bfloat16) if with_norm else None
        res = torch.randn(m, n, device="cuda").to(torch.bfloat16) if with_res else None
        y = rs.poison(torch.empty(m, n, device="cuda", dtype=torch.float32 if out_f32 else torch.bfloat16))
        in_place = with_res and i % 2 == 0  # y is the residual itself
        res_in = res.double() if with_res else None
        if in_place:
            y = res
        rc = gemv(x, w, bias, y, out_f32, m, n, k, norm=g, residual=res)
        torch.cuda.synchronize()
        xr = rmsnorm_ref(x, g, 1e-5) if with_norm else x.double()
        ref = xr @ w.double().T
        if bias is not None:
            ref += bias.double()
        if with_res:
            ref += res_in
        name = (f"m={m} n={n} k={k}{' +bias' if with_bias else ''}{' +norm' if with_norm else ''}"
                f"{' +residual' if with_res else ''}{' (in place)' if in_place else ''}"
                f" -> {'f32' if out_f32 else 'bf16'}")
        # f32 output: products of bf16 are exact in float; only the float sums round.
        c.check(name, y, ref, 1e-5 if out_f32 and not with_norm else 1e-2, extra_ok=rc == 0)

    # A chain in the decode step's pattern: each launch reads its predecessor's output.
    k = 4096
    ws = [(torch.randn(k, k, device="cuda") * 0.02).to(torch.bfloat16) for _ in range(4)]
    g = (torch.rand(k, device="cuda") + 0.5).to(torch.bfloat16)
    h = torch.randn(1, k, device="cuda").to(torch.bfloat16)
    ref = h.double()
    t = rs.poison(torch.empty(1, k, device="cuda", dtype=torch.bfloat16))
    for w in ws:  # h = h + W2 . norm(W1 . h): the decode step's residual pattern
        gemv(h, w, None, t, False, 1, k, k, norm=g)
        gemv(t, w, None, h, False, 1, k, k, residual=h)
        mid = (rmsnorm_ref(ref.to(torch.bfloat16), g, 1e-5) @ w.double().T).to(torch.bfloat16).double()
        ref = (ref + (mid @ w.double().T).to(torch.bfloat16).double()).to(torch.bfloat16).double()
    torch.cuda.synchronize()
    c.check("chain of 8 launches (norm, then residual add in place)", h, ref, 1e-2)

    x = torch.zeros(16, 24, device="cuda", dtype=torch.bfloat16)
    w = torch.zeros(8, 24, device="cuda", dtype=torch.bfloat16)
    y = torch.zeros(16, 8, device="cuda", dtype=torch.bfloat16)
    yf = torch.zeros(16, 8, device="cuda", dtype=torch.float32)
    for m, k, why in [(0, 24, "m=0"), (9, 24, "m=9"), (1, 12, "k=12 (not a multiple of 8)")]:
        rc = gemv(x, w, None, y, False, m, 8, k)
        c.expect(f"rejects {why}", rc == 1, lib._lib.rs_last_error().decode())
    rc = gemv(ctypes.c_void_p(x.data_ptr() + 2), w, None, y, False, 1, 8, 16)
    c.expect("rejects misaligned x", rc == 1, lib._lib.rs_last_error().decode())
    rc = gemv(x, w, None, yf, True, 1, 8, 24, residual=y)
    c.expect("rejects a residual with float output", rc == 1, lib._lib.rs_last_error().decode())
    return c.summary()


if __name__ == "__main__":
    sys.exit(1 if run(rs.load_lib()) else 0)
