#!/usr/bin/env python3
"""The default model with float weights, for the F32 / BF16 rows of `make bench`.

Dequantizes every tensor of a GGUF file (SmolLM2-135M-Instruct Q4_1: Q4_1 layers and a
Q8_0 tied embedding) and writes it again as F32, or as BF16 for the 2-D weights (norm
vectors stay F32, as llama.cpp's converter keeps them), with the same metadata. The
values are the quantized model's, so the float rows compute the same network.

Run: .venv/bin/python bench/make_float_model.py models/SmolLM2-135M-Instruct.Q4_1.gguf \\
         models/SmolLM2-135M-Instruct.BF16.gguf --type bf16
Needs: gguf, numpy.
"""
from __future__ import annotations

import argparse
import sys

import gguf
import numpy as np


def copy_metadata(reader: gguf.GGUFReader, writer: gguf.GGUFWriter, file_type: int) -> None:
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = field.types[0]
        if key == "general.file_type":
            writer.add_key_value(key, file_type, vtype)
        elif vtype == gguf.GGUFValueType.ARRAY:
            sub = field.types[1]
            if sub == gguf.GGUFValueType.STRING:
                vals = [bytes(field.parts[i]).decode("utf-8", errors="surrogateescape") for i in field.data]
            else:
                vals = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_key_value(key, vals, vtype, sub_type=sub)
        elif vtype == gguf.GGUFValueType.STRING:
            writer.add_key_value(key, bytes(field.parts[field.data[0]]).decode("utf-8"), vtype)
        else:
            writer.add_key_value(key, field.parts[field.data[0]].tolist()[0], vtype)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--type", choices=["f32", "bf16"], default="f32")
    a = ap.parse_args()
    reader = gguf.GGUFReader(a.src)
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    writer = gguf.GGUFWriter(a.dst, arch)
    # llama_ftype: 0 = all F32, 32 = mostly BF16
    copy_metadata(reader, writer, 0 if a.type == "f32" else 32)
    for t in reader.tensors:
        shape = [int(x) for x in reversed(t.shape)]  # numpy order: rows first
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape)
        if a.type == "bf16" and w.ndim >= 2:
            q = gguf.quants.quantize(w, gguf.GGMLQuantizationType.BF16)
            writer.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            writer.add_tensor(t.name, w)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"wrote {a.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
