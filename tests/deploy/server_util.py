"""Starts the real radixserve binary for the deploy tests and generates a Python client
(radixserve.v1 from the protos, plus grpc.health.v1 Check/Watch) at test time."""
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/python"))
from radixserve_client import load_stubs  # noqa: E402

TINY_MODEL = ROOT / "tests/fixtures/models/llama-gqa-tied/model-f32.gguf"
DEFAULT_MODEL = ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"

# The standard grpc.health.v1 API, Check and Watch (a tiny, stable contract).
HEALTH_PROTO = """
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
"""


def stubs():
    """The generated modules: .cache_pb2 ... (see radixserve_client.load_stubs), .health_pb2,
    .health_pb2_grpc."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="radixserve_deploy_py_")
    pb = load_stubs(out)
    (pathlib.Path(out) / "rs_health.proto").write_text(HEALTH_PROTO)
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{out}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}",
            "rs_health.proto"]
    assert protoc.main(args) == 0, "protoc failed on the health proto"
    import rs_health_pb2
    import rs_health_pb2_grpc

    pb.health_pb2 = rs_health_pb2
    pb.health_pb2_grpc = rs_health_pb2_grpc
    return pb


def binary():
    build = os.environ.get("RADIXSERVE_BUILD_DIR", str(ROOT / "build"))
    path = pathlib.Path(build) / "service/radixserve"
    assert path.exists(), f"{path} is not built (RADIXSERVE_BUILD_DIR={build})"
    return path


class Server:
    """radixserve on free ports (gRPC and metrics); stop() sends SIGTERM and waits."""

    def __init__(self, *flags, model=TINY_MODEL):
        self.proc = subprocess.Popen(
            [str(binary()), f"--model={model}", "--host=127.0.0.1", "--port=0", "--metrics_port=0",
             "--threads=1", "--log_level=warning", *flags],
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.port = self.metrics_port = None
        for line in self.proc.stdout:
            if line.startswith("radixserve metrics on port"):
                self.metrics_port = int(line.split()[-1])
            if line.startswith("radixserve listening on port"):
                self.port = int(line.split()[-1])
                break
        if self.port is None:
            self.proc.kill()
            raise AssertionError(f"server did not start (exit {self.proc.wait()})")

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=timeout)
