"""ctypes bindings of libradixserve_cuda_capi.so (tests/cuda/capi.cu) and test helpers.

The tests and the benchmark share this module. Tensors are torch CUDA tensors; their
device pointers go straight to the launchers on torch's current stream.
"""
import ctypes
import os
import sys

import torch

F32, F16, BF16 = 0, 1, 2
PREFILL_AUTO, PREFILL_MMA, PREFILL_WGMMA = 0, 1, 2  # rs_set_prefill_path
CASCADE_AUTO, CASCADE_LEGACY, CASCADE_FUSED, CASCADE_PDL = 0, 1, 2, 3  # rs_set_cascade_mode


def prefill_paths():
    """The prefill kernels this GPU can run: mma.sync everywhere, wgmma on sm_90."""
    return [PREFILL_MMA, PREFILL_WGMMA] if torch.cuda.get_device_capability() == (9, 0) else [PREFILL_MMA]
DTYPE_CODE = {torch.float32: F32, torch.float16: F16, torch.bfloat16: BF16}

_P = ctypes.c_void_p
_I = ctypes.c_int
_I64 = ctypes.c_int64
_F = ctypes.c_float
_U64 = ctypes.c_uint64

_SIGNATURES = {
    "rs_rmsnorm": [_I, _P, _P, _P, _P, _I, _I, _F, _P],
    "rs_silu_and_mul": [_I, _P, _P, _I, _I, _P],
    "rs_rope": [_I, _I, _P, _P, _P, _I, _I, _I, _I, _I, _I64, _I64, _F, _I, _F, _F, _F, _I, _P],
    "rs_write_kv": [_I, _P, _P, _P, _P, _I, _I, _I, _I, _P, _I, _I64, _I64, _P],
    "rs_copy_blocks": [_P, _I, _I64, _P, _I, _P],
    "rs_swap_blocks": [_P, _P, _I, _I64, _P, _I, _P],
    "rs_sample": [_P, _I, _I, _P, _P, _P, _P, _P, _P, _P, _P, _P, _I64, _P],
    "rs_quant_gemm": [_I, _P, _P, _P, _P, _P, _I, _I, _I, _I, _P],
    "rs_decode": [_I, _P, _P, _P, _P, _P, _I, _I, _I, _I, _I, _P, _P, _P, _I, _F, _I, _P, _I64, _P],
    "rs_prefill": [_I, _I, _P, _P, _P, _P, _P, _I, _I, _I, _I, _I, _P, _P, _P, _P, _P, _I, _F, _I, _I, _P],
    "rs_merge_state": [_I, _P, _P, _P, _P, _I, _I, _I, _P],
    "rs_cascade": [_I, _P, _P, _P, _P, _P, _I, _I, _I, _I, _I, _P, _P, _P, _P, _I, _P, _P, _P, _I, _F,
                   _I, _I, _I, _P, _I64, _P],
}
_I64_RETURNING = {
    "rs_sampling_workspace_bytes": [_I, _I],
    "rs_decode_workspace_bytes": [_I, _I, _I, _I, _I],
    "rs_cascade_workspace_bytes": [_I, _I, _I, _I, _I, _I, _I, _I],
}


class Lib:
    def __init__(self, path):
        self._lib = ctypes.CDLL(path)
        for name, args in _SIGNATURES.items():
            fn = getattr(self._lib, name)
            fn.argtypes = args
            fn.restype = ctypes.c_int
        for name, args in _I64_RETURNING.items():
            fn = getattr(self._lib, name)
            fn.argtypes = args
            fn.restype = ctypes.c_int64
        self._lib.rs_last_error.restype = ctypes.c_char_p
        self._lib.rs_sample_uniform.argtypes = [_U64, _U64]
        self._lib.rs_sample_uniform.restype = ctypes.c_float
        # Returns the previous path (not a status): 0 auto, 1 mma.sync, 2 wgmma.
        self._lib.rs_set_prefill_path.argtypes = [_I]
        self._lib.rs_set_prefill_path.restype = ctypes.c_int
        self._lib.rs_set_cascade_mode.argtypes = [_I]
        self._lib.rs_set_cascade_mode.restype = ctypes.c_int

    def __getattr__(self, name):
        fn = getattr(self._lib, name)
        if name in _SIGNATURES:
            def checked(*args):
                rc = fn(*args)
                if rc != 0:
                    raise RuntimeError(f"{name} failed ({rc}): {self._lib.rs_last_error().decode()}")
                return rc
            return checked
        return fn


def ptr(t):
    return None if t is None else ctypes.c_void_p(t.data_ptr())


def stream():
    return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)


def load_lib(argv=None):
    """Returns the library, or exits 77 (CTest: skipped) without torch CUDA."""
    if not torch.cuda.is_available():
        print("SKIP: no CUDA device")
        sys.exit(77)
    path = None
    argv = argv if argv is not None else sys.argv
    if "--lib" in argv:
        path = argv[argv.index("--lib") + 1]
    path = path or os.environ.get("RADIXSERVE_CUDA_CAPI", "build/cuda/libradixserve_cuda_capi.so")
    return Lib(path)


def rel_err(out, ref):
    out64 = out.double()
    ref64 = ref.double()
    return ((out64 - ref64).norm() / ref64.norm().clamp_min(1e-300)).item()


def tol_for(dtype):
    return 1e-5 if dtype == torch.float32 else 1e-2


class Checker:
    """Collects pass/fail lines; poisoned outputs are NaN-filled before each launch."""

    def __init__(self, family):
        self.family = family
        self.failures = 0
        self.count = 0

    def check(self, name, out, ref, tol, extra_ok=True):
        self.count += 1
        finite = bool(torch.isfinite(out.float()).all().item())
        err = rel_err(out, ref) if finite else float("nan")
        ok = finite and err < tol and extra_ok
        if not ok:
            self.failures += 1
        print(f"[{'PASS' if ok else 'FAIL'}] {self.family}: {name}: rel_err={err:.3e} tol={tol:.0e}"
              f"{'' if finite else ' (NaN/unwritten output)'}", flush=True)
        return ok

    def expect(self, name, cond, detail=""):
        self.count += 1
        if not cond:
            self.failures += 1
        print(f"[{'PASS' if cond else 'FAIL'}] {self.family}: {name} {detail}", flush=True)

    def summary(self):
        print(f"== {self.family}: {self.count - self.failures}/{self.count} passed", flush=True)
        return self.failures


def poison(t):
    if t.dtype.is_floating_point:
        t.fill_(float("nan"))
    else:
        t.fill_(-7)
    return t
