"""Readiness (service/readiness.h): the named health service "radixserve.ready" goes
NOT_SERVING when free + evictable device KV blocks drop below --readiness_kv_headroom,
SERVING again when they come back, and NOT_SERVING for good on SIGTERM (draining), while
the overall health ("", what liveness probes ask) stays SERVING until shutdown. The
Kubernetes readiness probe and the Envoy health check in deploy/ ask exactly this."""
import signal
import threading
import time

import grpc
import pytest

from server_util import Server, stubs

READY = "radixserve.ready"


@pytest.fixture(scope="module")
def pb():
    return stubs()


def status(pb, channel, service):
    stub = pb.health_pb2_grpc.HealthStub(channel)
    return pb.health_pb2.HealthCheckResponse.ServingStatus.Name(
        stub.Check(pb.health_pb2.HealthCheckRequest(service=service), timeout=10).status)


def wait_for(pb, channel, service, want, seconds=20):
    deadline = time.time() + seconds
    got = None
    while time.time() < deadline:
        got = status(pb, channel, service)
        if got == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"health of {service!r} stayed {got}, wanted {want}")


def test_readiness_follows_kv_headroom_and_draining(pb):
    # 16 blocks of 16 tokens; ready needs 8 free or evictable blocks.
    server = Server("--kv_blocks=16", "--block_size=16", "--host_kv_blocks=0", "--readiness_kv_headroom=0.5",
                    "--readiness_interval_ms=50", "--grace_period_s=5")
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        assert status(pb, channel, "") == "SERVING"
        wait_for(pb, channel, READY, "SERVING")

        # A live session holding 10 of the 16 blocks leaves 6 < 8: not ready.
        cache = pb.cache_pb2_grpc.CacheStub(channel)
        common = pb.common_pb2
        session = cache.CreateSession(pb.cache_pb2.CreateSessionRequest(
            input=common.Input(tokens=common.TokenIds(ids=[10 + i % 50 for i in range(160)]))), timeout=60)
        wait_for(pb, channel, READY, "NOT_SERVING")
        assert status(pb, channel, "") == "SERVING", "liveness must not follow KV headroom"

        # Deleted, its blocks stay in the prefix cache but are evictable: ready again.
        cache.DeleteSession(pb.cache_pb2.DeleteSessionRequest(session_id=session.session_id), timeout=30)
        wait_for(pb, channel, READY, "SERVING")

        # SIGTERM: a Watch opened before it sees readiness go NOT_SERVING (draining).
        watch = pb.health_pb2_grpc.HealthStub(channel).Watch(
            pb.health_pb2.HealthCheckRequest(service=READY), timeout=30)
        seen = []

        def read():
            try:
                for r in watch:
                    seen.append(pb.health_pb2.HealthCheckResponse.ServingStatus.Name(r.status))
            except grpc.RpcError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        deadline = time.time() + 10
        while not seen and time.time() < deadline:
            time.sleep(0.02)
        assert seen[:1] == ["SERVING"], seen
        server.proc.send_signal(signal.SIGTERM)
        reader.join(timeout=30)
        assert "NOT_SERVING" in seen, f"readiness watch saw {seen} after SIGTERM"
        assert server.proc.wait(timeout=30) == 0
    finally:
        server.stop()


def test_readiness_service_off(pb):
    # --readiness_service= turns the named service off: only "" is known.
    server = Server("--kv_blocks=16", "--readiness_service=")
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        assert status(pb, channel, "") == "SERVING"
        with pytest.raises(grpc.RpcError) as err:
            status(pb, channel, READY)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        assert server.stop() == 0
