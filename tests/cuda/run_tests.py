"""Runs every CUDA kernel test family; exits 77 (CTest: skipped) without torch or a GPU."""
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import torch  # noqa: F401
except ImportError:
    print("SKIP: torch is not installed")
    sys.exit(77)

import rs_cuda as rs  # noqa: E402


def main():
    lib = rs.load_lib()
    here = os.path.dirname(os.path.abspath(__file__))
    # Every test_<family>.py beside this file is a family; each exposes run(lib).
    families = sorted(f[:-3] for f in os.listdir(here) if f.startswith("test_") and f.endswith(".py"))
    only = os.environ.get("RS_TEST_ONLY")
    failures = 0
    for mod in map(importlib.import_module, families):
        if only and only not in mod.__name__:
            continue
        try:
            failures += mod.run(lib)
        except Exception as e:  # a crash in one family must not hide the others' results
            import traceback
            traceback.print_exc()
            print(f"[FAIL] {mod.__name__}: exception {e}", flush=True)
            failures += 1
    print(f"TOTAL FAILURES: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
