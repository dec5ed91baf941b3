"""Weight-only INT8 (per channel) and INT4 (group 128) GEMM against float64 dequantized
matmul."""
import sys

import torch

import rs_cuda as rs


def make_int8(n, k):
    q = torch.randint(-127, 128, (n, k), dtype=torch.int8, device="cuda")
    scales = (torch.rand(n, device="cuda") * 0.02 + 0.001).to(torch.bfloat16)
    w = q.double() * scales.double()[:, None]
    return q.view(torch.uint8), scales, w


def make_int4(n, k):
    q = torch.randint(0, 16, (n, k), dtype=torch.int32, device="cuda")
    packed = (q[:, 0::2] | (q[:, 1::2] << 4)).to(torch.uint8)  # low nibble: even element
    scales = (torch.rand(n, k // 128, device="cuda") * 0.05 + 0.001).to(torch.bfloat16)
    w = (q.double() - 8) * scales.double().repeat_interleave(128, dim=1)
    return packed.contiguous(), scales, w


def run(lib):
    c = rs.Checker("quant_gemm")
    for quant, maker in [(0, make_int8), (1, make_int4)]:
        for m, n, k in [(1, 4096, 4096), (2, 14336, 4096), (3, 300, 128), (5, 4096, 14336), (8, 1000, 512), (17, 4096, 384), (40, 77, 1024),
                        (13, 2048, 2048), (64, 4096, 4096), (1, 33, 256), (1, 14336, 4096), (7, 4097, 1152), (4, 129, 896),
                        (6, 2050, 640), (1, 4096, 14336), (2, 96, 20480)]:
            w_q, scales, w = maker(n, k)
            x = torch.randn(m, k, device="cuda").to(torch.bfloat16)
            bias = torch.randn(n, device="cuda").to(torch.bfloat16) if m % 2 else None
            ref = x.double() @ w.T
            if bias is not None:
                ref += bias.double()
            for path, pname in [(2, "mma"), (1, "gemv"), (0, "auto")]:
                y = rs.poison(torch.empty(m, n, device="cuda", dtype=torch.bfloat16))
                lib.rs_quant_gemm(quant, rs.ptr(x), rs.ptr(w_q), rs.ptr(scales), rs.ptr(bias), rs.ptr(y), m, n, k, path,
                                  rs.stream())
                torch.cuda.synchronize()
                c.check(f"{'int8' if quant == 0 else 'int4'} {pname} m={m} n={n} k={k}"
                        f"{' +bias' if bias is not None else ''}", y, ref, 1e-2)
    return c.summary()


if __name__ == "__main__":
    sys.exit(1 if run(rs.load_lib()) else 0)
