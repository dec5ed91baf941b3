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


def make_int4(n, k, tiled=False):
    q = torch.randint(0, 16, (n, k), dtype=torch.int32, device="cuda")
    packed = tile_int4(q) if tiled else (q[:, 0::2] | (q[:, 1::2] << 4)).to(torch.uint8)  # low nibble: even element
    scales = (torch.rand(n, k // 128, device="cuda") * 0.05 + 0.001).to(torch.bfloat16)
    w = (q.double() - 8) * scales.double().repeat_interleave(128, dim=1)
    return packed.contiguous(), scales, w


def tile_int4(q):
    """kInt4Group128Tiled (kernels/quant_gemm_params.h), written independently of the
    kernel's own reasoning: rows padded to 8 with NaN-free filler, nibble n of each 8-k word
    holds k offset PERM[n], and the 16-byte chunk (row 8T + g, k 128G + 32t ..) moves to
    tile T, group G, slot 4g + t."""
    n, k = q.shape
    n_pad = (n + 7) // 8 * 8
    q = torch.cat([q, torch.randint(0, 16, (n_pad - n, k), dtype=q.dtype, device=q.device)])
    words = q.view(n_pad, k // 8, 8)[:, :, [0, 2, 4, 6, 1, 3, 5, 7]]
    packed = (words[:, :, 0::2] | (words[:, :, 1::2] << 4)).to(torch.uint8).reshape(n_pad, k // 2)
    chunks = packed.view(n_pad // 8, 8, k // 128, 4, 16).permute(0, 2, 1, 3, 4)
    return chunks.reshape(-1)


def run(lib):
    c = rs.Checker("quant_gemm")
    names = {0: "int8", 1: "int4", 2: "int4 tiled"}
    for quant, maker in [(0, make_int8), (1, make_int4), (2, lambda n, k: make_int4(n, k, tiled=True))]:
        for m, n, k in [(1, 4096, 4096), (2, 14336, 4096), (3, 300, 128), (5, 4096, 14336), (8, 1000, 512), (17, 4096, 384), (40, 77, 1024),
                        (13, 2048, 2048), (64, 4096, 4096), (1, 33, 256), (1, 14336, 4096), (7, 4097, 1152), (4, 129, 896),
                        (6, 2050, 640), (1, 4096, 14336), (2, 96, 20480),
                        # m = 1 kernel of the tiled layout (k = 1024, 2048, 4096): odd tile counts, partial tiles
                        (1, 4100, 4096), (1, 77, 2048), (1, 1000, 1024)]:
            w_q, scales, w = maker(n, k)
            x = torch.randn(m, k, device="cuda").to(torch.bfloat16)
            bias = torch.randn(n, device="cuda").to(torch.bfloat16) if m % 2 else None
            ref = x.double() @ w.T
            if bias is not None:
                ref += bias.double()
            for path, pname in [(2, "mma"), (1, "gemv"), (0, "auto")]:
                if quant == 2 and path == 1:
                    continue  # no GEMV path for the tiled layout; rejected below
                y = rs.poison(torch.empty(m, n, device="cuda", dtype=torch.bfloat16))
                lib.rs_quant_gemm(quant, rs.ptr(x), rs.ptr(w_q), rs.ptr(scales), rs.ptr(bias), rs.ptr(y), m, n, k, path,
                                  rs.stream())
                torch.cuda.synchronize()
                c.check(f"{names[quant]} {pname} m={m} n={n} k={k}"
                        f"{' +bias' if bias is not None else ''}", y, ref, 1e-2)
    w_q, scales, _ = make_int4(16, 128, tiled=True)
    x = torch.randn(1, 128, device="cuda").to(torch.bfloat16)
    y = torch.empty(1, 16, device="cuda", dtype=torch.bfloat16)
    rc = lib._lib.rs_quant_gemm(2, rs.ptr(x), rs.ptr(w_q), rs.ptr(scales), None, rs.ptr(y), 1, 16, 128, 1, rs.stream())
    c.expect("int4 tiled rejects the gemv path", rc == 1, lib._lib.rs_last_error().decode())
    return c.summary()


if __name__ == "__main__":
    sys.exit(1 if run(rs.load_lib()) else 0)
