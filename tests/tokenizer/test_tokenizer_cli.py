"""`radixserve-model tokenize` / `detokenize` against the `tokenizers` package, live, on
the committed SentencePiece fixture, and against the llama.cpp ids in the fixtures for
the default model."""
import json
import os
import subprocess
from pathlib import Path

import pytest
from tokenizers import Tokenizer

BUILD_DIR = Path(os.environ.get("RADIXSERVE_BUILD_DIR", "build"))
CLI = BUILD_DIR / "model" / "radixserve-model"
FIXTURES = Path("tests/fixtures/tokenizer")
SPM_JSON = FIXTURES / "spm" / "tokenizer.json"
SPM_GGUF = FIXTURES / "spm" / "tokenizer.gguf"
MODEL = Path("models/SmolLM2-135M-Instruct.Q4_1.gguf")
CORPUS = json.loads((FIXTURES / "corpus.json").read_text(encoding="utf-8"))
# Every 4th string keeps the run short while covering each group of the corpus.
SAMPLE = CORPUS[::4]


@pytest.fixture(autouse=True)
def require_cli():
    if not CLI.exists():
        pytest.skip(f"{CLI} not built (set RADIXSERVE_BUILD_DIR)")


def run(*args, stdin=None, check=True):
    return subprocess.run([str(CLI), *map(str, args)], input=stdin, capture_output=True,
                          check=check, encoding="utf-8", errors="strict")


def tokenize(path, text, *flags):
    return json.loads(run("tokenize", "--json", *flags, path, stdin=text).stdout)


def detokenize(path, ids, *flags):
    return json.loads(run("detokenize", "--json", *flags, path, stdin=json.dumps(ids)).stdout)


@pytest.mark.parametrize("text", SAMPLE)
def test_spm_json_matches_tokenizers(text):
    ref = Tokenizer.from_file(str(SPM_JSON))
    want = ref.encode(text, add_special_tokens=False).ids
    got = tokenize(SPM_JSON, text, "--no-add-special")
    assert got["ids"] == want
    assert got["count"] == len(want)
    assert detokenize(SPM_JSON, want)["text"] == ref.decode(want, skip_special_tokens=False)


def test_spm_gguf_adds_bos_and_skips_it():
    got = tokenize(SPM_GGUF, "Hello world")
    assert got["ids"][0] == 1 and got["tokens"][0] == "<s>"
    assert detokenize(SPM_GGUF, got["ids"], "--skip-special")["text"] == "Hello world"


def test_plain_output_and_ids_as_arguments():
    ids = run("tokenize", "--no-add-special", SPM_JSON, "Hello", "world").stdout.split()
    assert run("detokenize", SPM_JSON, *ids).stdout == "Hello world\n"


def test_default_model_chat_markup():
    if not MODEL.exists():
        pytest.skip("default model not fetched (make model)")
    ref = json.loads((FIXTURES / "smollm2_reference.json").read_text(encoding="utf-8"))
    text = "<|im_start|>user\nHello!<|im_end|>\n"
    case = ref["cases"][CORPUS.index(text)]["llamacpp"]
    assert tokenize(MODEL, text)["ids"] == case["ids"]
    assert tokenize(MODEL, text, "--no-parse-special")["ids"] == case["ids_plain"]
    assert detokenize(MODEL, case["ids"])["text"] == text


def test_errors_are_reported():
    bad = run("detokenize", SPM_JSON, "999999", check=False)
    assert bad.returncode == 1 and "outside the vocabulary" in bad.stderr
    bad = run("detokenize", SPM_JSON, "12x", check=False)
    assert bad.returncode == 1 and "not a token id" in bad.stderr
    bad = run("tokenize", FIXTURES / "corpus.json", "x", check=False)
    assert bad.returncode == 1 and "tokenizer.json" in bad.stderr
