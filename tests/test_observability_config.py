"""Prometheus, its alert rules and the Grafana dashboard of the stack, checked against what
Herald really exposes.

The names are not a list kept here: one test runs Herald (API and worker, the worker serving
the Temporal SDK's metrics), delivers a message so that every series exists, scrapes both
endpoints, and checks every metric each dashboard query and alert rule names, the labels
they match and group by, and the values they compare labels with. The Prometheus targets are
checked against the services and ports of docker-compose.yml, the Grafana provisioning
against the mounts. The small PromQL reader is tested on its own, and on broken queries.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from herald.core.settings import Settings
from herald.devstack.ports import free_port
from tests.stack import herald_on

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


COMPOSE: dict[str, Any] = load_yaml(ROOT / "docker-compose.yml")
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROMETHEUS: dict[str, Any] = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
DASHBOARD: dict[str, Any] = json.loads((DEPLOY / "grafana/dashboards/herald.json").read_text())

# --- a small PromQL reader ------------------------------------------------------------------

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
KEYWORDS |= {"and", "or", "unless", "inf", "nan"}
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers that are not functions,
    aggregations, keywords, label names or Grafana variables."""
    text = STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = GROUPING.sub(" ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # $__rate_interval
    text = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+|ms|[smhdwy])?\b", " ", text)  # 1e3, 5m
    names = set()
    for match in IDENTIFIER.finditer(text):
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group().lower() not in KEYWORDS:
            names.add(match.group())
    return names


def label_matchers(expr: str) -> Iterator[tuple[str, str, str, str]]:
    """``(metric, label, operator, value)`` for each matcher of a named selector."""
    for selector in SELECTOR.finditer(expr):
        for label, operator, value in MATCHER.findall(selector.group(2)):
            yield selector.group(1), label, operator, value


def grouping_labels(expr: str) -> set[str]:
    return {
        label.strip()
        for labels in GROUPING.findall(STRING.sub('""', expr))
        for label in labels.split(",")
        if label.strip()
    }


def test_the_promql_reader() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (route, le) (rate(herald_api_request_duration_"
        'seconds_bucket{route!="/metrics"}[$__rate_interval]))) / 2 + on (instance) '
        'max(herald_queue_depth{priority="high"} offset 5m) > bool 1e3 and up{job="x"}'
    )
    assert metric_names(expr) == {
        "herald_api_request_duration_seconds_bucket",
        "herald_queue_depth",
        "up",
    }
    assert list(label_matchers(expr)) == [
        ("herald_api_request_duration_seconds_bucket", "route", "!=", "/metrics"),
        ("herald_queue_depth", "priority", "=", "high"),
        ("up", "job", "=", "x"),
    ]
    assert grouping_labels(expr) == {"route", "le", "instance"}
    assert metric_names('label_replace(a_metric, "dst", "$1", "src", "(.*)")') == {"a_metric"}


# --- what the queries name -------------------------------------------------------------------


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """``(panel title, expr)`` of every query of every panel, rows' panels included."""
    panels = list(dashboard["panels"])
    for panel in dashboard["panels"]:
        panels += panel.get("panels", [])
    return [
        (panel["title"], target["expr"]) for panel in panels for target in panel.get("targets", [])
    ]


def alert_queries() -> list[tuple[str, str]]:
    rules = load_yaml(DEPLOY / "prometheus" / "alerts.yml")
    return [
        (rule.get("alert") or rule["record"], rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


PROMETHEUS_SERIES = {"up": {"job", "instance"}}
"""Series Prometheus makes itself for every target."""
TARGET_LABELS = {"job", "instance"}
"""Labels Prometheus adds to every scraped series."""
DEPLOYMENT_LABELS = {"task_queue", "namespace", "instance", "service_name"}
"""Labels whose values depend on the deployment, not on Herald: not compared."""


@dataclass
class Exposition:
    """Series names as Prometheus stores them (samples, not families: ``_total``,
    ``_bucket``), each with its labels and their values."""

    labels: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def add(self, text: str) -> None:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                series = self.labels.setdefault(sample.name, defaultdict(set))
                for label, value in sample.labels.items():
                    series[label].add(value)

    def problems(self, queries: Iterable[tuple[str, str]], jobs: set[str]) -> list[str]:
        found = []
        for where, expr in queries:
            names = metric_names(expr)
            if not names:
                found.append(f"{where}: no metric in {expr!r}")
            known_labels = set(TARGET_LABELS)
            for name in sorted(names):
                if name in PROMETHEUS_SERIES:
                    known_labels |= PROMETHEUS_SERIES[name]
                elif name in self.labels:
                    known_labels |= set(self.labels[name])
                else:
                    found.append(f"{where}: {name} is not exposed")
            for name, label, operator, value in label_matchers(expr):
                if name == "up" and label == "job" and value not in jobs:
                    found.append(f"{where}: no scrape job {value}")
                if name not in self.labels:
                    continue
                values = self.labels[name].get(label)
                if values is None and label not in TARGET_LABELS:
                    found.append(f"{where}: {name} has no label {label}")
                elif (
                    operator == "="
                    and values
                    and label not in DEPLOYMENT_LABELS
                    and value not in values
                ):
                    found.append(f"{where}: {name}{{{label}}} is never {value!r}")
            for label in sorted(grouping_labels(expr) - known_labels):
                found.append(f"{where}: no metric of {expr!r} has the label {label}")
        return found


def scrape_jobs() -> set[str]:
    return {job["job_name"] for job in PROMETHEUS["scrape_configs"]}


async def run_healthcheck(service: str, base_url: str) -> int:
    """The compose healthcheck of a Herald service (a Python one-liner run by the image's
    ``python``), aimed at ``base_url`` instead of the container's fixed port."""
    command = SERVICES[service]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"], command
    [url] = re.findall(r"http://127\.0\.0\.1:\d+", command[3])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", command[3].replace(url, base_url), stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), 30)


async def test_every_metric_the_dashboard_and_the_alerts_query_is_exposed(
    settings: Settings,
) -> None:
    """Run Herald for real, deliver one message (so the latency histograms and the
    processing-time gauge exist), scrape the API and the worker, and check every query."""
    port = free_port()
    settings = settings.model_copy(
        update={"worker_metrics_port": port, "metrics_refresh_seconds": 0.2}
    )
    exposition = Exposition()
    async with herald_on(settings) as stack, httpx.AsyncClient(timeout=10) as client:
        message = await stack.submit(priority="high")
        await stack.wait_for_status(message["id"], "awaiting_ack")
        assert (await stack.api.post(f"/v1/messages/{message['id']}/ack")).status_code == 200
        await stack.wait_for_status(message["id"], "delivered")
        api_url, worker_url = str(stack.api.base_url).rstrip("/"), f"http://127.0.0.1:{port}"
        async with asyncio.timeout(30):
            while True:
                api = (await client.get(f"{api_url}/metrics")).text
                worker = (await client.get(f"{worker_url}/metrics")).text
                if (
                    "herald_average_processing_time_seconds" in api
                    and "temporal_activity_schedule_to_start_latency_bucket" in worker
                ):
                    break
                await asyncio.sleep(0.2)
        # The compose healthchecks pass on these live processes.
        assert await run_healthcheck("api", api_url) == 0
        assert await run_healthcheck("worker", worker_url) == 0
        # ... and the worker's wants the SDK's task slots, which the API's /metrics lacks.
        assert await run_healthcheck("worker", api_url) != 0
    nothing = f"http://127.0.0.1:{free_port()}"
    assert await run_healthcheck("api", api_url) != 0, "fails once the API is gone"
    assert await run_healthcheck("worker", nothing) != 0
    exposition.add(api)
    exposition.add(worker)

    dashboard, alerts = dashboard_queries(DASHBOARD), alert_queries()
    assert len(dashboard) >= 15 and len(alerts) >= 5
    assert exposition.problems(dashboard, scrape_jobs()) == []
    assert exposition.problems(alerts, scrape_jobs()) == []

    # The checker catches a wrong name, label, label value or job.
    broken = [
        ("typo", "max(herald_queue_dept)"),
        ("family, not series", "rate(herald_api_requests[5m])"),
        ("label", 'sum(herald_queue_depth{prority="high"})'),
        ("value", 'max(herald_circuit_breaker_state{state="opened"})'),
        ("grouping", "sum by (tenant) (herald_queue_depth)"),
        ("job", 'up{job="herald"}'),
    ]
    assert exposition.problems(broken, scrape_jobs()) == [
        "typo: herald_queue_dept is not exposed",
        "family, not series: herald_api_requests is not exposed",
        "label: herald_queue_depth has no label prority",
        "value: herald_circuit_breaker_state{state} is never 'opened'",
        "grouping: no metric of 'sum by (tenant) (herald_queue_depth)' has the label tenant",
        "job: no scrape job herald",
    ]


# --- the dashboard shows what it should -------------------------------------------------------


def test_the_dashboard_charts_the_seed_metrics() -> None:
    """Delivery rate, processing latency, queue depth per priority, retry and failure
    rates, breaker state, API rate and latency by route, worker slots and schedule-to-start
    latency."""
    queries = " ".join(expr for _, expr in dashboard_queries(DASHBOARD))
    charted = metric_names(queries)
    assert {
        "herald_messages_delivered_per_second",
        "herald_average_processing_time_seconds",
        "herald_queue_depth",
        "herald_retry_rate",
        "herald_failure_rate",
        "herald_circuit_breaker_state",
        "herald_api_requests_total",
        "herald_api_request_duration_seconds_bucket",
        "temporal_worker_task_slots_available",
        "temporal_worker_task_slots_used",
        "temporal_activity_schedule_to_start_latency_bucket",
        "temporal_workflow_task_schedule_to_start_latency_bucket",
    } <= charted
    assert "by (priority)" in queries and "by (route" in queries
    panels = DASHBOARD["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]


# --- Prometheus finds every replica of the services that exist --------------------------------


def listening_port(service: str) -> int:
    """Where a service serves its metrics, from its own configuration in compose."""
    env = SERVICES[service].get("environment", {})
    if service == "api":
        return int(env["HERALD_API_PORT"])
    if service == "worker":
        return int(env["HERALD_WORKER_METRICS_PORT"])
    if service == "temporal":
        return int(env["PROMETHEUS_ENDPOINT"].rpartition(":")[2])
    raise AssertionError(f"no metrics port known for {service}")


def target_problems(prometheus: dict[str, Any]) -> list[str]:
    problems = []
    for job in prometheus["scrape_configs"]:
        for config in job.get("dns_sd_configs", []):
            if config.get("type") != "A":
                problems.append(f"{job['job_name']}: Docker's DNS answers A records")
            for name in config["names"]:
                if name not in SERVICES:
                    problems.append(f"{job['job_name']}: {name} is no service of the stack")
                elif config.get("port") != listening_port(name):
                    problems.append(f"{job['job_name']}: {name} listens on {listening_port(name)}")
    return problems


def test_prometheus_scrapes_every_replica_of_services_that_exist() -> None:
    assert target_problems(PROMETHEUS) == []
    discovered = {
        name: job["job_name"]
        for job in PROMETHEUS["scrape_configs"]
        for config in job.get("dns_sd_configs", [])
        for name in config["names"]
    }
    assert discovered == {"api": "herald-api", "worker": "herald-worker", "temporal": "temporal"}
    assert listening_port("worker") == Settings.model_fields["worker_metrics_port"].default

    broken = json.loads(json.dumps(PROMETHEUS))
    broken["scrape_configs"][0]["dns_sd_configs"][0]["names"] = ["tasks.api"]
    broken["scrape_configs"][1]["dns_sd_configs"][0]["port"] = 9090
    broken["scrape_configs"][2]["dns_sd_configs"][0]["type"] = "SRV"
    assert target_problems(broken) == [
        "herald-api: tasks.api is no service of the stack",
        "herald-worker: worker listens on 9464",
        "temporal: Docker's DNS answers A records",
    ]


def container_path(service: str, host_path: str) -> str:
    """Where a file of the repository is inside a service's container (its bind mounts)."""
    volumes: list[str] = SERVICES[service]["volumes"]
    for volume in volumes:
        source, target, *_ = volume.split(":")
        source = source.removeprefix("./")
        if host_path == source or host_path.startswith(source + "/"):
            return target + host_path.removeprefix(source)
    raise AssertionError(f"{host_path} is not mounted in {service}")


def test_prometheus_reads_its_config_and_rules_where_compose_mounts_them() -> None:
    command = SERVICES["prometheus"]["command"]
    assert f"--config.file={container_path('prometheus', 'deploy/prometheus/prometheus.yml')}" in (
        command
    )
    assert PROMETHEUS["rule_files"] == [
        container_path("prometheus", "deploy/prometheus/alerts.yml")
    ]


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard() -> None:
    provisioning = "deploy/grafana/provisioning"
    assert container_path("grafana", provisioning) == "/etc/grafana/provisioning"
    [datasource] = load_yaml(ROOT / provisioning / "datasources/prometheus.yml")["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090" in " ".join(SERVICES["prometheus"]["healthcheck"]["test"])
    uids = {
        target["datasource"]["uid"]
        for panel in DASHBOARD["panels"]
        for target in [panel, *panel.get("targets", [])]
        if "datasource" in target
    }
    assert uids == {datasource["uid"]}

    [provider] = load_yaml(ROOT / provisioning / "dashboards/herald.yml")["providers"]
    assert provider["options"]["path"] == container_path("grafana", "deploy/grafana/dashboards")
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == container_path("grafana", "deploy/grafana/dashboards/herald.json")
    assert DASHBOARD["uid"] == "herald"
