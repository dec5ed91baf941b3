"""Helpers for the model-layer pytests: run the radixserve-model CLI from the build dir."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

BUILD_DIR = Path(os.environ.get("RADIXSERVE_BUILD_DIR", "build"))
CLI = BUILD_DIR / "model" / "radixserve-model"


def require_cli():
    if not CLI.exists():
        pytest.skip(f"{CLI} not built (set RADIXSERVE_BUILD_DIR)")


def inspect(path, *flags):
    out = subprocess.run([str(CLI), "inspect", "--json", *flags, str(path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def inspect_error(path, *flags):
    out = subprocess.run([str(CLI), "inspect", "--json", *flags, str(path)],
                         capture_output=True, text=True)
    assert out.returncode != 0, out.stdout
    return out.stderr


def dump(path, name, tmp_path, canonical=False):
    """The tensor dequantized to float32, in storage order, plus its reported header."""
    out = tmp_path / "dump.bin"
    args = [str(CLI), "dump-tensor", str(path), name, "-o", str(out)]
    if canonical:
        args.append("--canonical")
    res = subprocess.run(args, check=True, capture_output=True, text=True)
    return np.fromfile(out, dtype=np.float32), json.loads(res.stdout)
