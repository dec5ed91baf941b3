"""The README's radixctl walkthrough works as written: its marked block runs under
bash -e against the test server (RADIXSERVE_ADDR), with build/release replaced by the
build directory under test."""
import json
import os
import re
import subprocess

from conftest import BUILD, ROOT


def walkthrough():
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- radixctl-walkthrough:[^>]*-->\s*```sh\n(.*?)```", text, re.S)
    assert m, "README.md lost its radixctl walkthrough block"
    return m.group(1)


def test_readme_walkthrough_runs(server, tmp_path):
    script = walkthrough().replace("$PWD/build/release", str(BUILD.resolve()))
    env = dict(os.environ, RADIXSERVE_ADDR=server.addr)
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr + server.log_tail()
    assert "SERVING" in r.stdout and "chat template   chatml" in r.stdout
    assert len(re.findall(r"cached (\d+) \| TTFT", r.stderr)) >= 4  # generate x2, two chat turns
    chat_cached = [int(x) for x in re.findall(r"cached (\d+) \| TTFT [\d.]+ ms \| [\d.]+ tok/s \| context",
                                               r.stderr)]
    assert len(chat_cached) == 2 and chat_cached[1] > 0
    bench = json.loads((tmp_path / "bench.json").read_text())
    assert bench["requests"]["ok"] == 8 and bench["tokens"]["generated"] == 8 * 16
    assert bench["tokens"]["cached"] >= 64  # the shared prefix is reused
