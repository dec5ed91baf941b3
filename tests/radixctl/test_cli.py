"""radixctl against a real radixserve (default SmolLM2 model): every command, --json
output parsed and checked, exit codes and error messages."""
import json
import re
import socket
import subprocess
import time

from conftest import RADIXCTL, TINY_MODEL, Server, ctl_json, run_ctl

SUMMARY = re.compile(r"\[(\d+) tokens \| prompt (\d+), cached (\d+) \| TTFT ([\d.]+) ms \| ([\d.]+) tok/s \| (\w[\w ]*)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- usage, connection, server and timeout errors -------------------------------------

def test_help_lists_every_command_and_the_exit_codes():
    r = run_ctl("--help")
    assert r.returncode == 0
    for cmd in ["generate", "chat", "tokenize", "detokenize", "model", "health", "sessions", "cache", "bench"]:
        assert re.search(rf"^\s+{cmd}\s", r.stdout, re.M), cmd
    assert "Exit codes:" in r.stdout and "RADIXSERVE_ADDR" in r.stdout
    sessions = run_ctl("sessions", "--help")
    for sub in ["ls", "show", "create", "fork", "truncate", "pin", "unpin", "offload", "restore", "rm"]:
        assert re.search(rf"^\s+{sub}\s", sessions.stdout, re.M), sub
    chat = run_ctl("chat", "--help")
    for cmd in ["/reset", "/fork", "/save", "/quit"]:
        assert cmd in chat.stdout


def test_usage_errors_exit_2():
    for args in (["bogus"], [], ["generate"], ["generate", "hi", "--bogus-flag"], ["generate", "hi", "-n", "x"],
                 ["sessions"], ["sessions", "truncate", "abc"], ["detokenize", "12", "abc"],
                 ["bench", "--prompt-tokens", "10:5"], ["chat", "--template", "nope"],
                 ["--tls", "--ca", "/nonexistent.pem", "health"], ["sessions", "rm"]):
        r = run_ctl(*args, addr="127.0.0.1:1")
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.strip(), args


def test_connection_error_exit_3_names_unavailable():
    port = free_port()  # nothing listens there
    r = run_ctl("--addr", f"127.0.0.1:{port}", "health")
    assert r.returncode == 3
    assert "UNAVAILABLE" in r.stderr and f"127.0.0.1:{port}" in r.stderr
    # RADIXSERVE_ADDR is the default for --addr.
    r = run_ctl("model", addr=f"127.0.0.1:{port}")
    assert r.returncode == 3 and "UNAVAILABLE" in r.stderr
    r = run_ctl("--json", "model", addr=f"127.0.0.1:{port}")
    assert r.returncode == 3 and json.loads(r.stderr)["error"]["code"] == "UNAVAILABLE"


def test_health_wait_sees_a_server_that_starts_later():
    port = free_port()
    waiter = subprocess.Popen([str(RADIXCTL), "--addr", f"127.0.0.1:{port}", "health", "--wait", "60"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert waiter.poll() is None  # still waiting: nothing listens yet
    s = Server(TINY_MODEL, f"--port={port}", "--metrics_port=-1")
    try:
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0 and out.strip() == "SERVING", err
    finally:
        s.stop()


def test_server_errors_exit_1_with_code_and_server_message(ctl):
    r = ctl("sessions", "show", "0123456789abcdef0123456789abcdef")
    assert r.returncode == 1
    assert "GetSession: NOT_FOUND: session '0123456789abcdef0123456789abcdef' not found" in r.stderr
    r = ctl("generate", "hi", "--max-tokens", "999999")
    assert r.returncode == 1 and "INVALID_ARGUMENT" in r.stderr and "max_tokens" in r.stderr
    assert r.stdout == ""
    r = ctl("detokenize", "999999")
    assert r.returncode == 1 and "INVALID_ARGUMENT" in r.stderr
    # With --json the error is JSON too (on stderr).
    r = ctl("--json", "sessions", "show", "nope")
    assert r.returncode == 1 and r.stdout == ""
    assert json.loads(r.stderr) == {"error": {"operation": "GetSession", "code": "NOT_FOUND",
                                              "message": "session 'nope' not found", "exit_code": 1}}


def test_timeout_exit_4(ctl):
    r = ctl("--timeout", "0.05", "generate", "Count to one hundred:", "-n", "400", "--ignore-eos")
    assert r.returncode == 4
    assert "DEADLINE_EXCEEDED" in r.stderr


# ---- health, model, tokenize ------------------------------------------------------------

def test_health(ctl, server):
    r = ctl("health")
    assert r.returncode == 0 and r.stdout.strip() == "SERVING"
    assert ctl_json(ctl, "health") == {"status": "SERVING", "service": ""}
    assert json.loads(ctl("health", "--json").stdout)["status"] == "SERVING"  # global flags after the command
    # The readiness service the server publishes for Kubernetes.
    r = ctl("health", "--service", "radixserve.ready", "--wait", "10")
    assert r.returncode == 0 and r.stdout.strip() == "SERVING"
    r = ctl("health", "--service", "no.such.service")
    assert r.returncode == 1 and "NOT_FOUND" in r.stderr
    # --addr overrides RADIXSERVE_ADDR.
    assert run_ctl("--addr", server.addr, "health", addr="127.0.0.1:1").returncode == 0


def test_model(ctl):
    info = ctl_json(ctl, "model")
    assert info["architecture"] == "llama" and info["format"] == "gguf" and info["weight_type"] == "Q4_1"
    assert info["vocab_size"] == 49152 and info["num_layers"] == 30 and info["backend"] == "cpu"
    assert info["chat_template"] == "chatml"  # SmolLM2's <|im_start|> is one token
    assert info["kv_device_blocks"] == 256 and info["kv_capacity_tokens"] == 256 * info["block_size"]
    assert isinstance(info["eos_token_ids"], list) and info["eos_token_ids"]
    text = ctl("model").stdout
    assert "chat template   chatml" in text and "backend         cpu" in text


def test_tokenize_detokenize_round_trip(ctl):
    tok = ctl_json(ctl, "tokenize", "Hello world, radixserve!")
    assert tok["count"] == len(tok["tokens"]) > 3
    ids = tok["tokens"]
    r = ctl("tokenize", "Hello world, radixserve!")
    assert r.returncode == 0 and [int(x) for x in r.stdout.split()] == ids
    assert ctl_json(ctl, "detokenize", *ids)["text"] == "Hello world, radixserve!"
    r = ctl("detokenize", input=",".join(map(str, ids)))  # from stdin
    assert r.returncode == 0 and r.stdout == "Hello world, radixserve!\n"
    # Control tokens are parsed as such, and can be skipped when detokenizing.
    im = ctl_json(ctl, "tokenize", "<|im_start|>")["tokens"]
    assert len(im) == 1
    assert ctl_json(ctl, "detokenize", "--skip-special-tokens", *im, *ids)["text"] == "Hello world, radixserve!"


# ---- generate --------------------------------------------------------------------------

def test_generate_streams_text_and_prints_a_summary(ctl):
    r = ctl("generate", "The capital of France is", "-n", "8", "--ignore-eos")
    assert r.returncode == 0, r.stderr
    m = SUMMARY.search(r.stderr)
    assert m, r.stderr
    assert int(m.group(1)) == 8 and int(m.group(2)) == 5 and m.group(6).startswith("length")
    assert float(m.group(4)) > 0 and float(m.group(5)) > 0
    j = ctl_json(ctl, "generate", "The capital of France is", "-n", "8", "--ignore-eos")
    assert r.stdout == j["text"] + "\n"  # greedy: the streamed text equals the JSON one
    assert j["usage"] == {"prompt_tokens": 5, "cached_tokens": j["usage"]["cached_tokens"], "generated_tokens": 8}
    assert j["usage"]["cached_tokens"] == 0  # 5 tokens: less than one whole KV block to reuse
    assert len(j["tokens"]) == 8 and j["finish_reason"] == "FINISH_REASON_LENGTH" and j["session_id"] == ""
    assert 0 < j["timings"]["time_to_first_token_ms"] <= j["timings"]["total_ms"]
    assert ctl_json(ctl, "detokenize", *[t["id"] for t in j["tokens"]])["text"] == j["text"]


def test_generate_sampling_flags_and_stop(ctl):
    args = ["generate", "Once upon a time", "-n", "12", "--ignore-eos", "--temperature", "0.9", "--top-k", "40",
            "--top-p", "0.95", "--min-p", "0.02", "--repetition-penalty", "1.1", "--presence-penalty", "0.1",
            "--frequency-penalty", "0.1"]
    a = ctl_json(ctl, *args, "--seed", "7")
    b = ctl_json(ctl, *args, "--seed", "7")
    assert a["tokens"] == b["tokens"] and a["usage"]["generated_tokens"] == 12  # same seed, same text
    greedy = ctl_json(ctl, "generate", "Count: 1, 2, 3,", "-n", "16", "--ignore-eos")
    first = greedy["tokens"][0]["id"]
    stopped = ctl_json(ctl, "generate", "Count: 1, 2, 3,", "-n", "16", "--stop-token", first)
    assert stopped["finish_reason"] == "FINISH_REASON_STOP_TOKEN" and len(stopped["tokens"]) == 1
    word = greedy["text"].strip().split()[1]
    s = ctl_json(ctl, "generate", "Count: 1, 2, 3,", "-n", "16", "--stop", word)
    assert s["finish_reason"] == "FINISH_REASON_STOP_STRING" and word not in s["text"]


def test_generate_logprobs(ctl):
    j = ctl_json(ctl, "generate", "2 + 2 =", "-n", "4", "--ignore-eos", "--logprobs", "3")
    for t in j["tokens"]:
        assert t["logprob"] <= 0 and len(t["top_logprobs"]) == 3
        assert t["top_logprobs"][0]["token"] == t["id"]  # greedy picks the most likely
        assert abs(t["top_logprobs"][0]["logprob"] - t["logprob"]) < 1e-4
    r = ctl("generate", "2 + 2 =", "-n", "4", "--ignore-eos", "--logprobs", "2")
    lines = [l for l in r.stderr.splitlines() if re.match(r"\s*\d+ \"", l)]
    assert len(lines) == 4 and lines[0].split()[0] == str(j["tokens"][0]["id"])


def test_generate_from_stdin_and_on_a_session(ctl):
    sid = ctl("sessions", "create", "--text", "<|im_start|>user\nName a color.<|im_end|>\n").stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", sid)
    before = ctl_json(ctl, "sessions", "show", sid)
    j = ctl_json(ctl, "generate", "-", "--session", sid, "-n", "4", "--ignore-eos",
                 input="<|im_start|>assistant\n")
    assert j["session_id"] == sid
    assert j["reused_tokens"] == before["num_computed"]  # the session's KV is not recomputed
    after = ctl_json(ctl, "sessions", "show", sid)
    assert after["num_tokens"] == before["num_tokens"] + j["usage"]["prompt_tokens"] + 4
    # Continue with no new input: only the pending token is computed.
    r = ctl("generate", "--session", sid, "-n", "2", "--ignore-eos")
    m = SUMMARY.search(r.stderr)
    assert r.returncode == 0 and int(m.group(2)) == 1 and int(m.group(3)) == after["num_computed"]
    assert f"session {sid}" in r.stderr
    kept = ctl_json(ctl, "generate", "Hello", "-n", "2", "--keep-session")
    assert re.fullmatch(r"[0-9a-f]{32}", kept["session_id"])
    assert ctl("sessions", "rm", sid, kept["session_id"]).returncode == 0


# ---- sessions and cache ------------------------------------------------------------------

def test_sessions_lifecycle(ctl):
    ids = ctl_json(ctl, "tokenize", "The quick brown fox jumps over the lazy dog. " * 4)["tokens"]
    s = ctl_json(ctl, "sessions", "create", "--tokens", ",".join(map(str, ids)), "--idle-timeout", "600")
    sid = s["session_id"]
    assert s["num_tokens"] == len(ids) == s["num_computed"] and s["state"] == "SESSION_STATE_IDLE"
    listed = ctl_json(ctl, "sessions", "ls")
    assert sid in [x["session_id"] for x in listed["sessions"]] and listed["total_sessions"] >= 1
    assert sid in ctl("sessions", "ls").stdout

    fork_id = ctl("sessions", "fork", sid).stdout.strip()
    fork = ctl_json(ctl, "sessions", "show", fork_id)
    assert fork_id != sid and fork["num_tokens"] == len(ids) and fork["shared_blocks"] > 0

    t = ctl_json(ctl, "sessions", "truncate", fork_id, "10")
    assert t["num_tokens"] == 10
    r = ctl("sessions", "truncate", fork_id, "1000")
    assert r.returncode == 1 and "OUT_OF_RANGE" in r.stderr

    assert ctl_json(ctl, "sessions", "pin", sid)["pinned"] is True
    r = ctl("sessions", "offload", sid)
    assert r.returncode == 1 and "FAILED_PRECONDITION" in r.stderr
    assert ctl_json(ctl, "sessions", "unpin", sid)["pinned"] is False
    off = ctl_json(ctl, "sessions", "offload", sid)
    assert off["state"] == "SESSION_STATE_SWAPPED" and off["device_blocks"] == 0 and off["host_blocks"] > 0
    assert "state           swapped" in ctl("sessions", "show", sid).stdout
    back = ctl_json(ctl, "sessions", "restore", sid)
    assert back["state"] == "SESSION_STATE_IDLE" and back["host_blocks"] == 0 and back["num_tokens"] == len(ids)
    r = ctl("sessions", "restore", sid)
    assert r.returncode == 1 and "FAILED_PRECONDITION" in r.stderr

    assert ctl_json(ctl, "sessions", "rm", sid, fork_id) == {"deleted": [sid, fork_id]}
    assert sid not in [x["session_id"] for x in ctl_json(ctl, "sessions", "ls")["sessions"]]
    r = ctl("sessions", "rm", sid)
    assert r.returncode == 1 and "NOT_FOUND" in r.stderr


def test_sessions_rm_all(ctl):
    for _ in range(2):
        assert ctl("sessions", "create", "--text", "hello").returncode == 0
    assert ctl_json(ctl, "sessions", "ls")["total_sessions"] >= 2
    assert ctl("sessions", "rm", "--all").returncode == 0
    assert ctl_json(ctl, "sessions", "ls") == {"sessions": [], "total_sessions": 0}


def test_cache_stats_and_clear(ctl):
    prompt = "A long shared system prompt that should land in the prefix cache. " * 6
    ctl_json(ctl, "generate", prompt, "-n", "1")
    before = ctl_json(ctl, "cache", "stats")
    j = ctl_json(ctl, "generate", prompt, "-n", "1")
    assert j["usage"]["cached_tokens"] >= 16  # whole blocks of the same prompt are reused
    after = ctl_json(ctl, "cache", "stats", "--sessions")
    assert after["prefix_hit_tokens"] - before["prefix_hit_tokens"] == j["usage"]["cached_tokens"]
    assert after["prefix_hit_ratio"] == after["prefix_hit_tokens"] / after["prefix_query_tokens"]
    assert after["device_blocks"] == 256 and after["tree_blocks"] > 0 and "sessions" in after
    assert "sessions" not in before
    text = ctl("cache", "stats").stdout
    assert "prefix hit ratio" in text and "device blocks     256 total" in text
    cleared = ctl_json(ctl, "cache", "clear")
    assert cleared["blocks_freed"] > 0
    assert ctl_json(ctl, "cache", "stats")["evictable_blocks"] == 0
    assert ctl("cache", "clear").stdout.startswith("freed ")
