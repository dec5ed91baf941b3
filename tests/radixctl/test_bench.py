"""radixctl bench: a short workload whose printed counts match the server's Prometheus
counters for the same run, and the same figures in --json."""
import json
import os
import re
import signal
import subprocess
import time

from conftest import RADIXCTL, ctl_json

COUNTERS = {
    "requests": 'radixserve_requests_total{code="OK",method="Generate"}',
    "prompt": "radixserve_prompt_tokens_total",
    "cached": "radixserve_cached_tokens_total",
    "generated": "radixserve_generated_tokens_total",
}


def deltas(before, after):
    return {k: after.get(name, 0) - before.get(name, 0) for k, name in COUNTERS.items()}


def parse_table(out):
    num = lambda pattern: float(re.search(pattern, out, re.M).group(1))
    return {
        "requests": num(r"^requests\s+(\d+) \(ok (?:\d+), failed 0\)"),
        "ok": num(r"^requests\s+\d+ \(ok (\d+)"),
        "prompt": num(r"^prompt tokens\s+(\d+)"),
        "cached": num(r"^prompt tokens\s+\d+ \(cached (\d+)\)"),
        "generated": num(r"^generated tokens\s+(\d+)"),
        "hit_ratio": num(r"^server prefix-cache hit ratio\s+([\d.]+)"),
        "ttft_p50": num(r"^TTFT\s+[\d.]+\s+([\d.]+)"),
    }


def test_bench_counts_match_the_server_metrics(ctl, server, tmp_path):
    out = tmp_path / "bench.json"
    before = server.metrics()
    # 3 conversations x 2 turns on sessions, all starting with a 32-token shared prefix.
    r = ctl("bench", "--requests", "6", "--concurrency", "2", "--turns", "2", "--prompt-tokens", "8:24",
            "--output-tokens", "4:8", "--shared-prefix", "32", "--seed", "3", "--progress", "always",
            "--json", out)
    assert r.returncode == 0, r.stderr
    after = server.metrics()
    printed = parse_table(r.stdout)
    d = deltas(before, after)
    assert printed["requests"] == printed["ok"] == d["requests"] == 6
    assert printed["prompt"] == d["prompt"] > 6 * 8
    assert printed["cached"] == d["cached"] >= 32  # later conversations reuse the shared prefix
    assert printed["generated"] == d["generated"]
    assert 6 * 4 <= printed["generated"] <= 6 * 8  # ignore_eos: exactly the sampled lengths
    assert "6/6 requests" in r.stderr  # the progress bar

    j = json.loads(out.read_text())
    assert j["requests"] == {"total": 6, "ok": 6, "failed": 0}
    assert j["tokens"] == {"prompt": printed["prompt"], "cached": printed["cached"],
                           "generated": printed["generated"]}
    assert j["config"]["turns"] == 2 and j["config"]["shared_prefix"] == 32 and j["config"]["mode"] == "concurrency"
    for name in ("ttft", "tpot", "e2e"):
        p = j["latency_ms"][name]
        assert 0 < p["p50"] <= p["p90"] <= p["p99"], (name, p)
    assert abs(j["latency_ms"]["ttft"]["p50"] - printed["ttft_p50"]) < 0.1
    assert j["latency_ms"]["ttft"]["p99"] <= j["latency_ms"]["e2e"]["p99"]
    dur = j["duration_s"]
    assert abs(j["throughput"]["generated_tokens_per_s"] - printed["generated"] / dur) < 1e-6
    assert abs(j["throughput"]["requests_per_s"] - 6 / dur) < 1e-6
    s = j["server"]
    assert s["prefix_hit_tokens"] == printed["cached"]
    assert abs(s["prefix_hit_ratio"] - s["prefix_hit_tokens"] / s["prefix_query_tokens"]) < 1e-9
    assert abs(printed["hit_ratio"] - s["prefix_hit_ratio"]) < 1e-3
    # Sessions of the multi-turn conversations are cleaned up.
    assert ctl_json(ctl, "sessions", "ls")["total_sessions"] == 0


def test_bench_open_loop_rate_json_on_stdout(ctl, server):
    before = server.metrics()
    r = ctl("bench", "--requests", "4", "--rate", "50", "--prompt-tokens", "normal:16:4", "--output-tokens", "3",
            "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    d = deltas(before, server.metrics())
    assert j["config"]["mode"] == "rate" and j["config"]["rate"] == 50
    assert j["requests"]["ok"] == d["requests"] == 4
    assert j["tokens"]["generated"] == d["generated"] == 12
    assert j["tokens"]["prompt"] == d["prompt"]
    assert r.stderr == ""  # no progress bar when stderr is not a terminal (auto)


def test_bench_reports_failed_requests_and_exits_with_their_error(ctl, server):
    before = server.metrics()
    r = ctl("bench", "--requests", "2", "--concurrency", "2", "--prompt-tokens", "4", "--output-tokens", "99999")
    assert r.returncode == 1
    assert re.search(r"^requests\s+2 \(ok 0, failed 2\)", r.stdout, re.M)
    assert "first error         INVALID_ARGUMENT" in r.stdout
    assert "2 of 2 requests failed; first: INVALID_ARGUMENT" in r.stderr
    after = server.metrics()
    key = 'radixserve_requests_total{code="INVALID_ARGUMENT",method="Generate"}'
    assert after.get(key, 0) - before.get(key, 0) == 2


def test_ctrl_c_cancels_the_run_and_reports_what_finished(server, ctl):
    env = dict(os.environ, RADIXSERVE_ADDR=server.addr)
    p = subprocess.Popen([str(RADIXCTL), "bench", "--requests", "40", "--concurrency", "2", "--turns", "2",
                          "--prompt-tokens", "8", "--output-tokens", "64", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "[interrupted" in err
    j = json.loads(out)
    assert j["interrupted"] is True and j["requests"]["failed"] == 0
    assert j["requests"]["ok"] < 40 and j["requests"]["cancelled"] >= 0  # usually 2: one per worker
    assert j["tokens"]["generated"] == 64 * j["requests"]["ok"]
    # Every conversation's session is deleted, the cancelled ones included.
    assert ctl_json(ctl, "sessions", "ls")["total_sessions"] == 0
