#!/usr/bin/env python3
"""Writes radixserve-dashboard.json, the Grafana dashboard over radixserve's metrics
(service/metrics.cc) as scraped by the PodMonitor (namespace and pod labels). Edit the
panels here and rerun; tests/deploy checks every metric it names against a live server."""
import json
import pathlib

SEL = 'namespace="$namespace", pod=~"$pod"'
DS = {"type": "prometheus", "uid": "${datasource}"}


class Layout:
    def __init__(self):
        self.y = 0
        self.panels = []
        self.next_id = 1

    def row(self, title):
        self.panels.append({"type": "row", "title": title, "collapsed": False, "id": self.next_id,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.next_id += 1
        self.y += 1

    def add(self, panels, h=8):
        w = 24 // len(panels)
        for i, p in enumerate(panels):
            p["id"] = self.next_id
            self.next_id += 1
            p["gridPos"] = {"h": h, "w": w, "x": i * w, "y": self.y}
            self.panels.append(p)
        self.y += h


def target(expr, legend="", ref="A"):
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}


def series(title, exprs, unit="short", description="", stack=False):
    targets = [target(e, l, chr(ord("A") + i)) for i, (e, l) in enumerate(exprs)]
    custom = {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return {"type": "timeseries", "title": title, "description": description, "datasource": DS,
            "targets": targets, "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}}}


def stat(title, expr, unit="short", description="", thresholds=None):
    steps = thresholds or [{"color": "green", "value": None}]
    return {"type": "stat", "title": title, "description": description, "datasource": DS,
            "targets": [target(expr)],
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area"}}


def quantiles(metric, by=""):
    grp = f"le{', ' + by if by else ''}"
    return [(f"histogram_quantile({q}, sum by ({grp}) (rate({metric}_bucket{{{SEL}}}[$__rate_interval])))",
             f"p{int(q * 100)}{' {{' + by + '}}' if by else ''}") for q in (0.5, 0.95, 0.99)]


def build():
    L = Layout()
    L.row("Overview")
    L.add([
        stat("Ready pods", f"sum(radixserve_ready{{{SEL}}})",
             description="Pods that can admit a request now (nothing queued, free or evictable KV blocks)"),
        stat("Requests / s", f"sum(rate(radixserve_requests_total{{{SEL}}}[$__rate_interval]))", "reqps"),
        stat("Server error ratio",
             f'sum(rate(radixserve_requests_total{{{SEL}, code=~"UNKNOWN|INTERNAL|UNAVAILABLE|DATA_LOSS"}}'
             f"[$__rate_interval])) / sum(rate(radixserve_requests_total{{{SEL}}}[$__rate_interval]))",
             "percentunit", thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 0.05}]),
        stat("p95 time to first token",
             f"histogram_quantile(0.95, sum by (le) (rate(radixserve_time_to_first_token_seconds_bucket{{{SEL}}}"
             "[$__rate_interval])))", "s",
             thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 2}]),
        stat("Generated tokens / s", f"sum(rate(radixserve_generated_tokens_total{{{SEL}}}[$__rate_interval]))"),
        stat("Prefix cache hit ratio",
             f"sum(rate(radixserve_cached_tokens_total{{{SEL}}}[$__rate_interval])) / "
             f"sum(rate(radixserve_prompt_tokens_total{{{SEL}}}[$__rate_interval]))", "percentunit"),
    ], h=4)
    L.row("Requests")
    L.add([
        series("Requests / s by method",
               [(f"sum by (method) (rate(radixserve_requests_total{{{SEL}}}[$__rate_interval]))", "{{method}}")],
               "reqps", stack=True),
        series("Requests / s by code",
               [(f"sum by (code) (rate(radixserve_requests_total{{{SEL}}}[$__rate_interval]))", "{{code}}")],
               "reqps", stack=True),
        series("p95 RPC duration by method",
               [(f"histogram_quantile(0.95, sum by (le, method) (rate(radixserve_request_duration_seconds_bucket"
                 f"{{{SEL}}}[$__rate_interval])))", "{{method}}")], "s"),
    ])
    L.row("Latency")
    L.add([
        series("Time to first token", quantiles("radixserve_time_to_first_token_seconds"), "s",
               "From a request's arrival to its first generated token"),
        series("Time per output token", quantiles("radixserve_time_per_output_token_seconds"), "s",
               "Mean time between generated tokens after the first, per request"),
        series("Engine step duration", quantiles("radixserve_step_duration_seconds"), "s",
               "One batched Backend::Forward with its scheduling"),
    ])
    L.row("Tokens")
    L.add([
        series("Tokens / s", [
            (f"sum(rate(radixserve_prompt_tokens_total{{{SEL}}}[$__rate_interval]))", "prompt"),
            (f"sum(rate(radixserve_cached_tokens_total{{{SEL}}}[$__rate_interval]))", "prompt, from prefix cache"),
            (f"sum(rate(radixserve_generated_tokens_total{{{SEL}}}[$__rate_interval]))", "generated"),
        ]),
        series("Prefix cache hit ratio by pod", [
            (f"sum by (pod) (rate(radixserve_cached_tokens_total{{{SEL}}}[$__rate_interval])) / "
             f"sum by (pod) (rate(radixserve_prompt_tokens_total{{{SEL}}}[$__rate_interval]))", "{{pod}}")],
            "percentunit"),
        series("Batch size per step", [
            (f"sum(rate(radixserve_step_batch_sequences_sum{{{SEL}}}[$__rate_interval])) / "
             f"sum(rate(radixserve_step_batch_sequences_count{{{SEL}}}[$__rate_interval]))", "sequences"),
            (f"sum(rate(radixserve_step_batch_tokens_sum{{{SEL}}}[$__rate_interval])) / "
             f"sum(rate(radixserve_step_batch_tokens_count{{{SEL}}}[$__rate_interval]))", "tokens"),
        ]),
    ])
    L.row("KV cache")
    L.add([
        series("Device KV blocks used (sessions + prefix cache)", [
            (f"radixserve_kv_device_blocks_used{{{SEL}}} / radixserve_kv_device_blocks{{{SEL}}}", "{{pod}}")],
            "percentunit", "Prefix-cache blocks count as used but are evictable"),
        series("Host (swap) KV blocks used", [
            (f"radixserve_kv_host_blocks_used{{{SEL}}}", "{{pod}} used"),
            (f"radixserve_kv_host_blocks{{{SEL}}}", "{{pod}} pool"),
        ]),
        series("Live sessions", [(f"radixserve_sessions{{{SEL}}}", "{{pod}}")]),
    ])
    L.row("Scheduler")
    L.add([
        series("Queue depth (HPA metric)", [(f"radixserve_queue_depth{{{SEL}}}", "{{pod}}")], "short",
               "Requests waiting for admission or preempted"),
        series("Running requests", [(f"radixserve_running_requests{{{SEL}}}", "{{pod}}")]),
        series("Ready", [(f"radixserve_ready{{{SEL}}}", "{{pod}}")], "short",
               "1 when a new request can be admitted now"),
    ])
    return {
        "title": "radixserve",
        "uid": "radixserve",
        "description": "radixserve gRPC LLM inference server: traffic, latency, tokens, KV cache, scheduler",
        "tags": ["radixserve", "llm"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0},
            {"name": "namespace", "label": "Namespace", "type": "query", "datasource": DS,
             "query": {"query": "label_values(radixserve_sessions, namespace)", "refId": "namespace"},
             "definition": "label_values(radixserve_sessions, namespace)", "refresh": 2, "current": {}},
            {"name": "pod", "label": "Pod", "type": "query", "datasource": DS,
             "query": {"query": 'label_values(radixserve_sessions{namespace="$namespace"}, pod)', "refId": "pod"},
             "definition": 'label_values(radixserve_sessions{namespace="$namespace"}, pod)', "refresh": 2,
             "includeAll": True, "multi": True, "allValue": ".*", "current": {}},
        ]},
        "annotations": {"list": []},
        "panels": L.panels,
    }


if __name__ == "__main__":
    out = pathlib.Path(__file__).resolve().parent / "radixserve-dashboard.json"
    out.write_text(json.dumps(build(), indent=2) + "\n")
    print(f"wrote {out}")
