"""A small Python client for radixserve, generated from the protos at run time with
grpcio-tools (no checked-in generated code).

    .venv/bin/python tests/python/radixserve_client.py --port 50051 "What is a KV cache?"

streams a chat answer (ChatML, the default model's format) and prints the usage.
"""
import argparse
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_stubs(out_dir=None):
    """Generates the radixserve.v1 Python modules into out_dir (a temp dir by default)
    and returns them as a namespace."""
    from grpc_tools import protoc

    out = out_dir or tempfile.mkdtemp(prefix="radixserve_py_")
    protos = [str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto/radixserve/v1").glob("*.proto")]
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{ROOT / 'proto'}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}",
            *protos]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed")
    sys.path.insert(0, out)
    from radixserve.v1 import cache_pb2, cache_pb2_grpc, common_pb2, inference_pb2, inference_pb2_grpc
    from radixserve.v1 import model_pb2, model_pb2_grpc

    return argparse.Namespace(cache_pb2=cache_pb2, cache_pb2_grpc=cache_pb2_grpc, common_pb2=common_pb2,
                              inference_pb2=inference_pb2, inference_pb2_grpc=inference_pb2_grpc,
                              model_pb2=model_pb2, model_pb2_grpc=model_pb2_grpc)


def main():
    import grpc

    parser = argparse.ArgumentParser()
    parser.add_argument("prompt")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50051)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.0)
    args = parser.parse_args()
    pb = load_stubs()
    channel = grpc.insecure_channel(f"{args.host}:{args.port}")
    stub = pb.inference_pb2_grpc.InferenceStub(channel)
    text = f"<|im_start|>user\n{args.prompt}<|im_end|>\n<|im_start|>assistant\n"
    request = pb.inference_pb2.GenerateRequest(
        input=pb.common_pb2.Input(text=text),
        sampling=pb.common_pb2.SamplingParams(temperature=args.temperature),
        stop=pb.common_pb2.StopConditions(max_tokens=args.max_tokens))
    last = None
    for chunk in stub.Generate(request):
        sys.stdout.write(chunk.text)
        sys.stdout.flush()
        last = chunk
    u = last.usage
    print(f"\n[{u.prompt_tokens} prompt tokens ({u.cached_tokens} cached), {u.generated_tokens} generated, "
          f"first token {last.timings.time_to_first_token_ms:.0f} ms, total {last.timings.total_ms:.0f} ms, "
          f"finish {pb.common_pb2.FinishReason.Name(last.finish_reason)}]")


if __name__ == "__main__":
    main()
