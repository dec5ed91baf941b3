"""TLS: radixserve --tls_cert/--tls_key/--tls_ca (mutual TLS) and radixctl --tls --ca
--cert --key, with certificates made by openssl for the test."""
import json
import shutil
import subprocess

import pytest

from conftest import TINY_MODEL, Server, run_ctl


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=radixserve test {ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.pem", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "san.ext", "-out", f"{name}.pem", cwd=d)
    return d


@pytest.fixture(scope="module")
def tls_server(certs):
    s = Server(TINY_MODEL, f"--tls_cert={certs / 'server.pem'}", f"--tls_key={certs / 'server.key'}",
               f"--tls_ca={certs / 'ca.pem'}", "--metrics_port=-1")
    yield s
    s.stop()


def test_mutual_tls(tls_server, certs):
    tls = ["--tls", "--ca", certs / "ca.pem", "--cert", certs / "client.pem", "--key", certs / "client.key"]
    r = run_ctl(*tls, "health", addr=tls_server.addr)
    assert r.returncode == 0 and r.stdout.strip() == "SERVING", r.stderr
    r = run_ctl(*tls, "generate", "hello", "-n", "3", "--ignore-eos", addr=tls_server.addr)
    assert r.returncode == 0 and "[3 tokens" in r.stderr
    # The same server under its localhost name (the certificate's DNS SAN).
    r = run_ctl(*tls, "--addr", f"localhost:{tls_server.port}", "--json", "model")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    # The tiny fixture's 288-token vocabulary keeps <|im_start|> as one token.
    assert info["vocab_size"] == 288 and info["chat_template"] == "chatml"


def test_tls_failures_are_connection_errors(tls_server, certs):
    addr = tls_server.addr
    cases = {
        "plaintext to a TLS server": [],
        "no client certificate": ["--tls", "--ca", certs / "ca.pem"],
        "server signed by an unknown CA": ["--tls", "--ca", certs / "other-ca.pem", "--cert", certs / "client.pem",
                                           "--key", certs / "client.key"],
    }
    for what, flags in cases.items():
        r = run_ctl(*flags, "--timeout", "20", "health", addr=addr)
        assert r.returncode == 3, (what, r.returncode, r.stderr)
        assert "UNAVAILABLE" in r.stderr, (what, r.stderr)


def test_server_refuses_incomplete_tls_flags(certs):
    from conftest import RADIXSERVE
    r = subprocess.run([str(RADIXSERVE), f"--model={TINY_MODEL}", "--port=0", "--metrics_port=-1",
                        f"--tls_cert={certs / 'server.pem'}"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "--tls_key" in r.stderr
    r = run_ctl("--cert", certs / "client.pem", "--key", certs / "client.key", "health", addr="127.0.0.1:1")
    assert r.returncode == 2 and "--tls" in r.stderr
