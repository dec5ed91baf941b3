#!/usr/bin/env python3
"""Builds the tokenizer golden data under tests/fixtures/tokenizer/.

Not run by CI (CI only compares against the committed files). Needs the fixture venv:

  python3 -m venv .venv-fixtures
  .venv-fixtures/bin/pip install transformers torch sentencepiece gguf tokenizers \
      numpy protobuf llama-cpp-python
  bash scripts/fetch_model.sh
  .venv-fixtures/bin/python scripts/make_tokenizer_fixtures.py

Writes:
  corpus.json            the test strings (scripts/tokenizer_corpus.py)
  smollm2_reference.json ids + decoded text of every corpus string for the default
                         model (SmolLM2-135M-Instruct GGUF) from two references:
                         transformers (AutoTokenizer from the GGUF) and llama.cpp
                         (llama-cpp-python, vocab_only), with specials parsed and not
  spm/tokenizer.json     a small SentencePiece BPE (byte fallback) trained here, in
  spm/tokenizer.gguf     Hugging Face and GGUF ("llama" tokenizer) form
  spm_reference.json     ids + text from HF tokenizers (tokenizer.json), llama.cpp
                         (the GGUF) and sentencepiece itself (the .model)
"""
import ctypes
import hashlib
import json
import os
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
sys.path.insert(0, os.path.dirname(__file__))
import tokenizer_corpus  # noqa: E402

SPM_VOCAB = 1200


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path, obj):
    """Top-level keys and list items one per line, each item compact: small files
    with readable diffs."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    dump = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as f:
        if isinstance(obj, list):
            f.write("[\n" + ",\n".join(dump(v) for v in obj) + "\n]\n")
            return
        f.write("{\n")
        items = []
        for k, v in obj.items():
            if isinstance(v, list):
                body = ",\n".join(" " + dump(x) for x in v)
                items.append(f"{dump(k)}:[\n{body}\n]" if v else f"{dump(k)}:[]")
            else:
                items.append(f"{dump(k)}:{dump(v)}")
        f.write(",\n".join(items) + "\n}\n")


class LlamaCppRef:
    """llama.cpp through llama-cpp-python, loading only the vocabulary."""

    def __init__(self, path):
        import llama_cpp
        self.lib = llama_cpp
        self.llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)

    def encode(self, text, special):
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def decode(self, ids):
        # llama_detokenize is llama.cpp's own whole-sequence decode (leading-space rule
        # included); llama-cpp-python's detokenize() concatenates pieces instead.
        n = len(ids)
        arr = (self.lib.llama_token * max(n, 1))(*ids)
        size = 64 + 16 * n
        buf = ctypes.create_string_buffer(size)
        got = self.lib.llama_detokenize(self.vocab, arr, n, buf, size, False, True)
        assert got >= 0, got
        return buf.raw[:got].decode("utf-8", errors="replace")


def smollm2_reference(corpus):
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(os.path.dirname(MODEL), gguf_file=os.path.basename(MODEL))
    lc = LlamaCppRef(MODEL)
    # transformers' GGUF converter gives SmolLM2 a plain ByteLevel pre-tokenizer; the
    # model's published tokenizer.json runs Digits(individual_digits) first. Rebuild
    # that pipeline with `tokenizers` as a third reference.
    from tokenizers import Tokenizer
    spec = json.loads(hf.backend_tokenizer.to_str())
    spec["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    hj = Tokenizer.from_str(json.dumps(spec))
    cases, disagree = [], []
    for i, text in enumerate(corpus):
        hf_ids = hf.encode(text, add_special_tokens=False)
        hf_ids_plain = hf(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        lc_ids = lc.encode(text, special=True)
        lc_ids_plain = lc.encode(text, special=False)
        case = {
            "index": i,
            "hf": {"ids": hf_ids, "ids_plain": hf_ids_plain,
                   "text": hf.decode(hf_ids, skip_special_tokens=False,
                                     clean_up_tokenization_spaces=False)},
            "llamacpp": {"ids": lc_ids, "ids_plain": lc_ids_plain, "text": lc.decode(lc_ids)},
        }
        hj_ids = hj.encode(text, add_special_tokens=False).ids
        case["hf_json"] = {"ids": hj_ids, "text": hj.decode(hj_ids, skip_special_tokens=False)}
        cases.append(case)
        diffs = [k for k in ("ids", "ids_plain", "text") if case["hf"][k] != case["llamacpp"][k]]
        diffs += [f"hf_json_{k}" for k in ("ids", "text") if case["hf_json"][k] != case["llamacpp"][k]]
        if diffs:
            disagree.append({"index": i, "text": text, "fields": diffs})
    return {
        "model": os.path.basename(MODEL),
        "model_sha256": sha256(MODEL),
        "references": {
            "hf": "transformers AutoTokenizer.from_pretrained(dir, gguf_file=...): "
                  "encode(add_special_tokens=False); ids_plain with split_special_tokens=True; "
                  "decode(skip_special_tokens=False, clean_up_tokenization_spaces=False)",
            "llamacpp": "llama-cpp-python Llama(vocab_only=True).tokenize(add_bos=False, "
                        "special=True|False); llama_detokenize(remove_special=False, "
                        "unparse_special=True)",
            "hf_json": "tokenizers.Tokenizer from transformers' GGUF conversion with the "
                       "pre_tokenizer of SmolLM2's published tokenizer.json (Digits "
                       "individual_digits + ByteLevel); encode(add_special_tokens=False), "
                       "decode(skip_special_tokens=False)",
        },
        "disagreements": disagree,
        "cases": cases,
    }


# Pre-tokenizer families checked on SmolLM2's vocabulary: the GGUF name, and the
# tokenizer.json pre_tokenizer + ignore_merges Hugging Face ships for that family
# (None: no Hugging Face equivalent, llama.cpp only).
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def _split_then_bytelevel(regex):
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
         "use_regex": False}]}


PRE_FAMILIES = {
    "llama-bpe": (_split_then_bytelevel(LLAMA3_REGEX), True),
    "qwen2": (_split_then_bytelevel(QWEN2_REGEX), False),
    "gpt-2": ({"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
               "use_regex": True}, False),
    "default": (None, False),
}


def write_vocab_gguf(src, path, pre):
    """A tensor-less GGUF with `src`'s byte-level vocabulary and pre-tokenizer `pre`."""
    import gguf
    r = gguf.GGUFReader(src)
    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    types = [int(r.fields["tokenizer.ggml.token_type"].parts[i][0])
             for i in r.fields["tokenizer.ggml.token_type"].data]
    w = gguf.GGUFWriter(path, "llama")
    w.add_context_length(512)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(16)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(strings("tokenizer.ggml.tokens"))
    w.add_token_types(types)
    w.add_token_merges(strings("tokenizer.ggml.merges"))
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def pre_variants_reference(corpus):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(os.path.dirname(MODEL), gguf_file=os.path.basename(MODEL))
    base = json.loads(hf.backend_tokenizer.to_str())
    families, disagree = {}, []
    with tempfile.TemporaryDirectory() as work:
        for pre, (pre_tokenizer, ignore_merges) in PRE_FAMILIES.items():
            path = os.path.join(work, pre + ".gguf")
            write_vocab_gguf(MODEL, path, pre)
            lc = LlamaCppRef(path)
            hj = None
            if pre_tokenizer is not None:
                spec = dict(base)
                spec["pre_tokenizer"] = pre_tokenizer
                spec["model"] = dict(base["model"], ignore_merges=ignore_merges)
                hj = Tokenizer.from_str(json.dumps(spec))
            cases = []
            for i, text in enumerate(corpus):
                case = {"index": i, "llamacpp": {"ids": lc.encode(text, special=True)}}
                if hj is not None:
                    case["hf_json"] = {"ids": hj.encode(text, add_special_tokens=False).ids}
                    if case["hf_json"]["ids"] != case["llamacpp"]["ids"]:
                        disagree.append({"pre": pre, "index": i, "text": text})
                cases.append(case)
            families[pre] = {"hf_pre_tokenizer": pre_tokenizer, "ignore_merges": ignore_merges,
                             "cases": cases}
    return {"model": os.path.basename(MODEL),
            "note": "SmolLM2's vocabulary and merges with other pre-tokenizer families: "
                    "llama.cpp from a tensor-less GGUF with tokenizer.ggml.pre set, and "
                    "tokenizers with the matching Hugging Face pre_tokenizer (no HF "
                    "equivalent for 'default')",
            "disagreements": disagree, "families": families}


def train_spm(corpus, workdir):
    """A SentencePiece BPE model with byte fallback, trained on the corpus plus some
    English, small enough to commit."""
    import sentencepiece as spm
    text_path = os.path.join(workdir, "train.txt")
    english = tokenizer_corpus.PROSE * 20 + tokenizer_corpus.CODE * 5
    with open(text_path, "w", encoding="utf-8") as f:
        for line in english + corpus:
            line = line.replace("\n", " ").strip()
            if line:
                f.write(line + "\n")
    prefix = os.path.join(workdir, "spm")
    spm.SentencePieceTrainer.train(
        input=text_path, model_prefix=prefix, model_type="bpe", vocab_size=SPM_VOCAB,
        byte_fallback=True, character_coverage=0.98, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, split_digits=True,
        allow_whitespace_only_pieces=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=2, minloglevel=2)
    return prefix + ".model"


def spm_pieces(model_path):
    from sentencepiece import sentencepiece_model_pb2 as pb
    m = pb.ModelProto()
    with open(model_path, "rb") as f:
        m.ParseFromString(f.read())
    # SentencePiece piece types -> GGUF token types (llama.cpp's convert script mapping).
    gguf_type = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6}
    return [(p.piece, p.score, gguf_type[p.type]) for p in m.pieces]


def write_spm_tokenizer_json(pieces, path):
    """tokenizer.json in the form transformers' LlamaConverter gives Llama 2 (legacy):
    BPE with byte_fallback, merges ranked by the merged piece's score."""
    from tokenizers import Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE
    vocab = {p: i for i, (p, _, _) in enumerate(pieces)}
    scored = sorted(((s, i, p) for i, (p, s, t) in enumerate(pieces) if t == 1),
                    key=lambda x: (-x[0], x[1]))
    merges = []
    for _, _, piece in scored:
        local = []
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab:
                local.append((vocab[left], vocab[right], left, right))
        local.sort()
        merges.extend((l, r) for _, _, l, r in local)
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True,
                        fuse_unk=True))
    specials = [p for p, _, t in pieces if t in (2, 3)]
    from tokenizers import AddedToken
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                           normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", vocab["<s>"])])
    tok.save(path)
    return tok


def write_spm_gguf(pieces, path):
    import gguf
    w = gguf.GGUFWriter(path, "llama")
    # Enough hyperparameters for llama.cpp to load the file with vocab_only; there are
    # no tensors.
    w.add_context_length(512)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(16)
    w.add_tokenizer_model("llama")
    w.add_token_list([p for p, _, _ in pieces])
    w.add_token_scores([float(s) for _, s, _ in pieces])
    w.add_token_types([t for _, _, t in pieces])
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def spm_reference(corpus):
    import sentencepiece as spm
    from tokenizers import Tokenizer
    spm_dir = os.path.join(OUT, "spm")
    os.makedirs(spm_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        model_path = train_spm(corpus, work)
        pieces = spm_pieces(model_path)
        sp = spm.SentencePieceProcessor(model_file=model_path)
        json_path = os.path.join(spm_dir, "tokenizer.json")
        gguf_path = os.path.join(spm_dir, "tokenizer.gguf")
        write_spm_tokenizer_json(pieces, json_path)
        write_spm_gguf(pieces, gguf_path)
        hf = Tokenizer.from_file(json_path)
        lc = LlamaCppRef(gguf_path)
        cases, disagree = [], []
        for i, text in enumerate(corpus):
            hf_ids = hf.encode(text, add_special_tokens=False).ids
            lc_ids = lc.encode(text, special=True)
            sp_ids = sp.encode(text)
            case = {
                "index": i,
                "hf": {"ids": hf_ids, "text": hf.decode(hf_ids, skip_special_tokens=False)},
                "llamacpp": {"ids": lc_ids, "ids_plain": lc.encode(text, special=False),
                             "text": lc.decode(lc_ids)},
                "sentencepiece": {"ids": sp_ids, "text": sp.decode(sp_ids)},
            }
            cases.append(case)
            diffs = [k for k in ("ids", "text") if case["hf"][k] != case["llamacpp"][k]]
            if sp_ids != lc_ids:
                diffs.append("sentencepiece_ids")
            if diffs:
                disagree.append({"index": i, "text": text, "fields": diffs})
    return {
        "tokenizer_json": "spm/tokenizer.json",
        "gguf": "spm/tokenizer.gguf",
        "references": {
            "hf": "tokenizers Tokenizer.from_file(tokenizer.json).encode(add_special_tokens="
                  "False); decode(skip_special_tokens=False)",
            "llamacpp": "llama-cpp-python on tokenizer.gguf: tokenize(add_bos=False, "
                        "special=True|False); llama_detokenize(remove_special=False, "
                        "unparse_special=True)",
            "sentencepiece": "SentencePieceProcessor.encode / decode on the trained .model "
                             "(knows no special tokens inside text)",
        },
        "disagreements": disagree,
        "cases": cases,
    }


def main():
    corpus = tokenizer_corpus.build_corpus()
    write_json(os.path.join(OUT, "corpus.json"), corpus)
    print(f"corpus: {len(corpus)} strings")
    spm_ref = spm_reference(corpus)
    write_json(os.path.join(OUT, "spm_reference.json"), spm_ref)
    print(f"spm: {len(spm_ref['disagreements'])} strings where references disagree")
    if os.path.exists(MODEL):
        ref = smollm2_reference(corpus)
        write_json(os.path.join(OUT, "smollm2_reference.json"), ref)
        print(f"smollm2: {len(ref['disagreements'])} strings where references disagree")
        pre = pre_variants_reference(corpus)
        with open(os.path.join(OUT, "pre_variants_reference.json"), "w", encoding="utf-8") as f:
            # One line per case keeps the file small and its diffs readable.
            f.write("{\n")
            f.write(f'"model":{json.dumps(pre["model"])},\n"note":{json.dumps(pre["note"])},\n')
            f.write(f'"disagreements":{json.dumps(pre["disagreements"], ensure_ascii=False)},\n')
            f.write('"families":{\n')
            fams = []
            for name, fam in pre["families"].items():
                head = {k: v for k, v in fam.items() if k != "cases"}
                body = ",\n".join(json.dumps(c, separators=(",", ":")) for c in fam["cases"])
                fams.append(f'{json.dumps(name)}:{{"meta":{json.dumps(head)},"cases":[\n{body}\n]}}')
            f.write(",\n".join(fams) + "\n}}\n")
        print(f"pre variants: {len(pre['disagreements'])} (family, string) pairs disagree")
    else:
        print(f"smollm2: {MODEL} missing; run scripts/fetch_model.sh", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
