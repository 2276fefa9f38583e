"""deploy/compose.yaml, deploy/nginx/nginx.conf and deploy/k8s/*.yaml: valid YAML, the fields a
cluster or compose needs, and consistency with the gateway (the config they ship loads, grace
periods exceed the gateway's drain time, probes hit /health on the served port)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from adapters.config.loader import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV = {"REDIS_URL": "redis://redis:6379/0", "DATABASE_URL": "postgresql://u@db:5432/x", "OPENAI_API_KEY": "sk"}


def k8s_documents() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path
            docs[doc["kind"]] = doc
    return docs


def test_the_kubernetes_example_has_probes_a_budget_and_a_cpu_autoscaler(tmp_path: Path) -> None:
    docs = k8s_documents()
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap"} <= set(docs)
    deployment = docs["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/health" and get["port"] in ports, probe
    assert pod["securityContext"]["runAsNonRoot"] is True

    config_file = tmp_path / "config.yaml"
    config_file.write_text(docs["ConfigMap"]["data"]["config.yaml"])
    settings = load_settings(config_file, environ=ENV)  # the shipped config is valid
    assert settings.redis.url == ENV["REDIS_URL"] and settings.database.url == ENV["DATABASE_URL"]
    assert pod["terminationGracePeriodSeconds"] > settings.server.shutdown_timeout_s
    assert ports["http"] == settings.server.port

    pdb, hpa = docs["PodDisruptionBudget"], docs["HorizontalPodAutoscaler"]
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert "cpu" in container["resources"]["requests"]  # utilization is relative to the request
    assert hpa["spec"]["minReplicas"] >= 2


def test_the_compose_stack_runs_two_gateways_behind_nginx_on_shared_redis_and_postgres() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"gateway-1", "gateway-2", "lb", "redis", "postgres"} <= set(services)
    for name in ("gateway-1", "gateway-2"):
        gateway = services[name]
        env = gateway["environment"]
        assert env["REDIS_URL"].startswith("redis://redis:") and "@postgres:" in env["DATABASE_URL"]
        assert any(v.endswith(":/etc/adaptive-proxy/config.yaml:ro") for v in gateway["volumes"])
        assert int(gateway["stop_grace_period"].rstrip("s")) > load_settings(
            DEPLOY.parent / "config.yaml", environ={}).server.shutdown_timeout_s
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    upstreams = re.findall(r"server (gateway-\d):8080", nginx)
    assert upstreams == ["gateway-1", "gateway-2"] and "proxy_buffering off" in nginx
    assert any(v.startswith("./nginx/nginx.conf:") for v in services["lb"]["volumes"])
