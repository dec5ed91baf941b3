"""Fixtures: a real radixserve on a free port and a runner for the radixctl binary."""
import json
import os
import pathlib
import re
import subprocess
import tempfile
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("RADIXSERVE_BUILD_DIR", ROOT / "build"))
RADIXSERVE = BUILD / "service/radixserve"
RADIXCTL = BUILD / "client/radixctl"
DEFAULT_MODEL = ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"
TINY_MODEL = ROOT / "tests/fixtures/models/llama-gqa-tied/model-f32.gguf"
LSAN_SUPP = pathlib.Path(__file__).resolve().parent / "lsan.supp"


class Server:
    """`radixserve` on port 0; reads the ports it prints."""

    def __init__(self, model, *extra):
        args = [str(RADIXSERVE), f"--model={model}", "--host=127.0.0.1", "--port=0", "--metrics_port=0",
                "--kv_blocks=256", "--host_kv_blocks=64", "--threads=2", "--grace_period_s=1",
                "--log_level=warning", *extra]
        # stderr to a file: a sanitizer report or a fatal log line lands there, and
        # log_tail() puts it into the failure message of whichever test saw the server go.
        self.log = tempfile.NamedTemporaryFile(prefix="radixserve-", suffix=".log")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=ROOT)
        self.port = self.metrics_port = None
        for line in self.proc.stdout:
            if m := re.match(r"radixserve metrics on port (\d+)", line):
                self.metrics_port = int(m.group(1))
            if m := re.match(r"radixserve listening on port (\d+)", line):
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError(f"radixserve did not start: {args}\n{self.log_tail()}")
        self.addr = f"127.0.0.1:{self.port}"

    def metrics(self):
        """Prometheus text -> {name{labels}: value}."""
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def log_tail(self, chars=20000):
        """The end of the server's stderr, with its exit status if it has exited."""
        text = pathlib.Path(self.log.name).read_text(errors="replace")[-chars:]
        status = self.proc.poll()
        return f"--- radixserve stderr (exit status {status}) ---\n{text}"

    def stop(self):
        self.proc.terminate()
        code = self.proc.wait(timeout=60)
        assert code == 0, self.log_tail()
        self.log.close()


def run_ctl(*args, addr=None, input=None, env=None, timeout=300):
    """Runs radixctl; returns CompletedProcess (text)."""
    e = dict(os.environ)
    e.pop("RADIXSERVE_ADDR", None)
    e["LSAN_OPTIONS"] = f"suppressions={LSAN_SUPP}"
    if addr is not None:
        e["RADIXSERVE_ADDR"] = addr
    if env:
        e.update(env)
    return subprocess.run([str(RADIXCTL), *map(str, args)], input=input, capture_output=True, text=True, env=e,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="session")
def server():
    if not DEFAULT_MODEL.exists():
        pytest.skip(f"{DEFAULT_MODEL} missing (make model)")
    s = Server(DEFAULT_MODEL)
    yield s
    s.stop()


@pytest.fixture
def ctl(server):
    """radixctl against the session's server (through RADIXSERVE_ADDR)."""
    return lambda *args, **kw: run_ctl(*args, addr=server.addr, **kw)


def ctl_json(ctl, *args, **kw):
    r = ctl("--json", *args, **kw)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)
