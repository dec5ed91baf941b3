"""Any language can call radixserve: a Python client generated from the protos with
grpcio-tools (at test time, into a temporary directory) runs a generation and the
session calls against the real server binary."""
import os
import pathlib
import subprocess
import sys
import tempfile

import grpc
import pytest
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]
# RADIXSERVE_TEST_BACKEND=cuda runs the same calls on the CUDA plugin (on a GPU machine),
# over the head_dim-64 fixture its attention kernels take.
BACKEND = os.environ.get("RADIXSERVE_TEST_BACKEND", "cpu")
MODEL = ROOT / ("tests/fixtures/models/llama-gqa-tied/model-f32.gguf" if BACKEND == "cpu"
                else "tests/fixtures/models/llama-hd64/model-f32.gguf")

# grpc.health.v1 is a standard, tiny API; its client is generated like ours.
HEALTH_PROTO = """
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
"""

# The part of grpc.reflection.v1alpha that lists services (what `grpcurl list` uses); a
# subset of the standard messages, wire-compatible with the full ones.
REFLECTION_PROTO = """
syntax = "proto3";
package grpc.reflection.v1alpha;
message ServerReflectionRequest { string host = 1; oneof message_request { string list_services = 7; } }
message ServiceResponse { string name = 1; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServerReflectionResponse {
  string valid_host = 1;
  oneof message_response { ListServiceResponse list_services_response = 6; }
}
service ServerReflection {
  rpc ServerReflectionInfo(stream ServerReflectionRequest) returns (stream ServerReflectionResponse);
}
"""


@pytest.fixture(scope="module")
def stubs():
    out = tempfile.mkdtemp(prefix="radixserve_py_")
    (pathlib.Path(out) / "health.proto").write_text(HEALTH_PROTO)
    (pathlib.Path(out) / "reflection.proto").write_text(REFLECTION_PROTO)
    protos = [str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto/radixserve/v1").glob("*.proto")]
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{ROOT / 'proto'}", f"-I{out}", f"-I{include}", f"--python_out={out}",
            f"--grpc_python_out={out}", *protos, "health.proto", "reflection.proto"]
    assert protoc.main(args) == 0
    sys.path.insert(0, out)
    from radixserve.v1 import cache_pb2, cache_pb2_grpc, common_pb2, inference_pb2, inference_pb2_grpc
    from radixserve.v1 import model_pb2, model_pb2_grpc
    import health_pb2, health_pb2_grpc
    import reflection_pb2, reflection_pb2_grpc

    build = os.environ.get("RADIXSERVE_BUILD_DIR", str(ROOT / "build"))
    proc = subprocess.Popen(
        [f"{build}/service/radixserve", f"--model={MODEL}", f"--backend={BACKEND}", "--host=127.0.0.1", "--port=0",
         "--metrics_port=-1", "--kv_blocks=64", "--host_kv_blocks=32", "--threads=1", "--log_level=warning"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    port = None
    for line in proc.stdout:
        if line.startswith("radixserve listening on port"):
            port = int(line.split()[-1])
            break
    assert port, "server did not start"
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    ns = type("Stubs", (), {})()
    ns.inference = inference_pb2_grpc.InferenceStub(channel)
    ns.cache = cache_pb2_grpc.CacheStub(channel)
    ns.model = model_pb2_grpc.ModelStub(channel)
    ns.health = health_pb2_grpc.HealthStub(channel)
    ns.reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    ns.pb = type("Pb", (), dict(common=common_pb2, inference=inference_pb2, cache=cache_pb2, model=model_pb2,
                                health=health_pb2, reflection=reflection_pb2))
    yield ns
    channel.close()
    proc.terminate()
    assert proc.wait(timeout=30) == 0


def generate(s, tokens=None, text=None, session_id="", max_tokens=8, keep=False):
    pb = s.pb
    inp = pb.common.Input(text=text) if text is not None else pb.common.Input(tokens=pb.common.TokenIds(ids=tokens))
    req = pb.inference.GenerateRequest(session_id=session_id, input=inp, keep_session=keep,
                                       stop=pb.common.StopConditions(max_tokens=max_tokens, ignore_eos=True))
    ids, text_out, last = [], "", None
    for chunk in s.inference.Generate(req, timeout=60):
        ids += [t.id for t in chunk.tokens]
        text_out += chunk.text
        last = chunk
    return ids, text_out, last


def test_health_and_model_info(stubs):
    pb = stubs.pb
    assert stubs.health.Check(pb.health.HealthCheckRequest()).status == pb.health.HealthCheckResponse.SERVING
    info = stubs.model.GetModelInfo(pb.model.GetModelInfoRequest())
    assert info.vocab_size == 288 and info.backend == BACKEND and info.context_length == 256


def test_server_reflection_lists_the_services(stubs):
    request = stubs.pb.reflection.ServerReflectionRequest(list_services="")
    replies = list(stubs.reflection.ServerReflectionInfo(iter([request]), timeout=30))
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"radixserve.v1.Inference", "radixserve.v1.Cache", "radixserve.v1.Model",
            "grpc.health.v1.Health"} <= names


def test_generation_streams_tokens_and_text(stubs):
    ids, text, last = generate(stubs, text="hello there", max_tokens=8)
    assert len(ids) == 8
    assert last.finish_reason == stubs.pb.common.FINISH_REASON_LENGTH
    assert last.usage.generated_tokens == 8
    again, _, _ = generate(stubs, text="hello there", max_tokens=8)
    assert again == ids  # greedy is deterministic
    detok = stubs.inference.Detokenize(stubs.pb.inference.DetokenizeRequest(tokens=ids, skip_special_tokens=True))
    assert detok.text == text


def test_session_calls(stubs):
    pb = stubs.pb
    s = stubs.cache.CreateSession(pb.cache.CreateSessionRequest(
        input=pb.common.Input(tokens=pb.common.TokenIds(ids=list(range(10, 30))))))
    assert s.num_tokens == 20 and s.state == pb.cache.SESSION_STATE_IDLE
    ids, _, last = generate(stubs, tokens=[40], session_id=s.session_id, max_tokens=4)
    assert last.usage.prompt_tokens == 1
    fork = stubs.cache.ForkSession(pb.cache.ForkSessionRequest(session_id=s.session_id))
    assert fork.num_tokens == 25
    listed = stubs.cache.ListSessions(pb.cache.ListSessionsRequest(page_size=1))
    assert len(listed.sessions) == 1 and listed.next_page_token
    t = stubs.cache.TruncateSession(pb.cache.TruncateSessionRequest(session_id=fork.session_id, num_tokens=20))
    assert t.num_tokens == 20
    off = stubs.cache.OffloadSession(pb.cache.OffloadSessionRequest(session_id=s.session_id))
    assert off.state == pb.cache.SESSION_STATE_SWAPPED
    back = stubs.cache.RestoreSession(pb.cache.RestoreSessionRequest(session_id=s.session_id))
    assert back.state == pb.cache.SESSION_STATE_IDLE
    with pytest.raises(grpc.RpcError) as err:
        stubs.cache.GetSession(pb.cache.GetSessionRequest(session_id="missing"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    for sid in (s.session_id, fork.session_id):
        stubs.cache.DeleteSession(pb.cache.DeleteSessionRequest(session_id=sid))
    stubs.cache.ClearPrefixCache(pb.cache.ClearPrefixCacheRequest())
    stats = stubs.cache.GetCacheStats(pb.cache.GetCacheStatsRequest())
    assert stats.num_sessions == 0 and stats.device_free_blocks == stats.device_blocks


def test_tokenizer_can_live_apart_from_the_model():
    """An HF directory without tokenizer.json serves with --tokenizer pointing elsewhere,
    and is refused with a message naming the tokenizer without it."""
    build = os.environ.get("RADIXSERVE_BUILD_DIR", str(ROOT / "build"))
    hf_dir = ROOT / "tests/fixtures/models/llama-gqa-tied"
    common = [f"{build}/service/radixserve", f"--model={hf_dir}", "--host=127.0.0.1", "--port=0",
              "--metrics_port=-1", "--kv_blocks=16", "--threads=1", "--log_level=warning"]
    refused = subprocess.run(common, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert refused.returncode != 0 and "tokenizer" in refused.stderr
    proc = subprocess.Popen(common + [f"--tokenizer={MODEL.parent.parent / 'llama-gqa-tied/model-f32.gguf'}"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert any(line.startswith("radixserve listening on port") for line in proc.stdout)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
