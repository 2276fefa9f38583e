"""Scale-out: two gateway processes on one Redis and one PostgreSQL behind a real nginx load
balancer (round robin, run by the test from Debian's package, `x-served-by` naming the instance
that answered). What must hold across instances: one key's rate limit, exact credits and one usage
row per paid request, the breakers, and the routing and response caches."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from devtools import nginx
from tests.conftest import _unavailable
from tests.e2e.conftest import FakeUpstream, free_port, running_fake_upstream

pytestmark = pytest.mark.e2e
ADMIN = {"authorization": "Bearer scale-admin"}
PAID = "fake_openai:gpt-4o-mini"


class Stack:
    """The balancer's URL and each instance's own URL (`host:port` is what `x-served-by` says)."""

    def __init__(self, balancer: str, instances: list[str]) -> None:
        self.url, self.instances = balancer, instances

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(method, f"{self.url}{path}", headers=ADMIN, timeout=10, **kwargs)
        assert response.status_code < 300, response.text
        return response

    def funded_key(self, credits: str = "10", **limits: Any) -> tuple[str, int, str]:
        org = f"org-{uuid.uuid4().hex[:8]}"
        created = self.admin("POST", "/admin/api-keys", json={"name": org, "organization_id": org, **limits}).json()
        self.admin("POST", "/admin/credits/adjust", json={"organization_id": org, "amount": credits,
                                                          "type": "promotional", "description": "scale-out test"})
        return created["key"], created["id"], org

    def client(self, key: str, base: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{base or self.url}/v1", api_key=key, max_retries=0)


def served_by(response: Any) -> str:
    return str(response.headers[nginx.SERVED_BY])


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def eventually(probe: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture(scope="module")
def bad_upstream() -> Iterator[FakeUpstream]:
    """A second fake upstream that fails every generation request (the healthy one is `fake`)."""
    with running_fake_upstream() as upstream:
        httpx.post(f"{upstream.url}/_fake/default", json={"fault": {"status": 503}}, timeout=5).raise_for_status()
        yield upstream


def _config(good: str, bad: str, redis_url: str, prefix: str, database_url: str, instance: int) -> dict[str, Any]:
    cheap = {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "quality": 0.6}
    return {
        # `port` only tells the two configs apart (start_gateway passes --port): two processes
        "server": {"log_level": "warning", "port": instance},
        "providers": {
            "fake_openai": {"kind": "openai", "base_url": f"{good}/v1", "api_key": "k", "timeout_ms": 10_000,
                            "models": {"gpt-4o-mini": cheap,
                                       "gpt-4o": {"input_per_mtok": 5.0, "output_per_mtok": 15.0, "quality": 0.9}}},
            "bad": {"kind": "openai", "base_url": f"{bad}/v1", "api_key": "k", "timeout_ms": 2_000,
                    "models": {"m": cheap}},
        },
        "model_router": {"models": ["fake_openai"]},
        "fallback": {"max_retries": 0, "breaker": {"failure_threshold": 2, "open_timeout_ms": 600_000}},
        "prompt_cache": {"enabled": True},
        "redis": {"url": redis_url, "key_prefix": prefix},
        "database": {"url": database_url, "auto_migrate": True},
        "auth": {"api_keys": True, "admin_token": ADMIN["authorization"].split()[1]},
        "credits": {"enabled": True},
        "usage": {"flush_interval_ms": 20},
    }


@pytest.fixture(scope="module")
def stack(start_gateway: Callable[[dict[str, Any]], str], fake_upstream: str, bad_upstream: FakeUpstream,
          redis_server_url: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not nginx.available():  # a failure instead under ADAPTIVE_PROXY_REQUIRE_SERVICES=1 (.ci/run)
        _unavailable("nginx is not installed (.ci/setup.d/60-nginx.sh installs it)")
    prefix = f"scale-{uuid.uuid4().hex[:10]}:"
    instances = [start_gateway(_config(fake_upstream, bad_upstream.url, redis_server_url, prefix, postgres_url, i))
                 for i in (1, 2)]
    port = free_port()
    workdir: Path = tmp_path_factory.mktemp("nginx")
    backends = [url.removeprefix("http://") for url in instances]
    with nginx.running(nginx.balancer_config(workdir, port, backends), workdir, port):
        yield Stack(f"http://127.0.0.1:{port}", instances)


def test_one_keys_rate_limit_holds_across_instances(stack: Stack) -> None:
    limit = 6
    key, _, _ = stack.funded_key(rate_limit_rpm=limit)
    client = stack.client(key)
    admitted: list[str] = []
    refused: list[httpx.Response] = []
    for i in range(limit + 4):
        try:
            admitted.append(served_by(client.chat.completions.with_raw_response.create(model=PAID,
                                                                                       messages=ask(f"r{i}"))))
        except openai.RateLimitError as exc:
            refused.append(exc.response)
    assert len(admitted) == limit and len(refused) == 4  # R in total in the window, whichever instance
    assert set(admitted) == {u.removeprefix("http://") for u in stack.instances}
    assert {served_by(r) for r in refused} == set(admitted)  # both instances refuse once the key is spent
    for response in refused:
        assert 1 <= int(response.headers["retry-after"]) <= 60


def test_concurrent_paid_requests_end_with_an_exact_balance(stack: Stack) -> None:
    count = 24
    key, key_id, org = stack.funded_key("10")
    client = stack.client(key)

    def one(i: int) -> tuple[str, str]:
        raw = client.chat.completions.with_raw_response.create(model=PAID, messages=ask(f"paid request {i}"))
        return served_by(raw), raw.headers["x-request-id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(count)))
    served = [s for s, _ in answers]
    assert set(served) == {u.removeprefix("http://") for u in stack.instances}  # both served some

    def usage() -> list[dict[str, Any]]:
        rows = stack.admin("GET", f"/admin/api-keys/{key_id}/usage?limit=100").json()["data"]
        return rows if len(rows) >= count else []

    rows = eventually(usage)
    assert sorted(r["request_id"] for r in rows) == sorted(rid for _, rid in answers)  # one row each
    assert all(r["status"] == "success" and Decimal(r["cost"]) > 0 for r in rows)
    spent = sum((Decimal(r["cost"]) for r in rows), Decimal(0))

    def charged() -> list[dict[str, Any]]:
        txs = stack.admin("GET", f"/admin/credits/transactions/{org}?limit=100").json()["data"]
        usage_txs = [t for t in txs if t["type"] == "usage"]
        return usage_txs if len(usage_txs) >= count else []

    txs = eventually(charged)
    assert sorted(t["api_usage_id"] for t in txs) == sorted(r["id"] for r in rows)  # charged once each
    balance = stack.admin("GET", f"/admin/credits/balance/{org}").json()
    assert Decimal(balance["balance"]) == Decimal(10) - spent
    assert Decimal(balance["total_used"]) == spent


def test_a_breaker_opened_through_one_instance_is_open_on_the_other(stack: Stack, bad_upstream: FakeUpstream) -> None:
    key, _, _ = stack.funded_key()
    first, second = stack.instances
    one = stack.client(key, first)
    before = bad_upstream.stats()["requests"]
    for _ in range(2):  # failure_threshold 2, no retries: two failed calls open it
        with pytest.raises(openai.APIStatusError):
            one.chat.completions.create(model="bad:m", messages=ask("to the failing provider"))
    assert bad_upstream.stats()["requests"] == before + 2
    page = httpx.get(f"{second}/admin/stats/providers", headers=ADMIN, timeout=10).json()  # the dashboard's data
    bad = {p["name"]: p for p in page["providers"]}["bad"]
    assert bad["breaker"] == "open"
    assert [(t["from"], t["to"]) for t in bad["transitions"]][:1] == [("closed", "open")]  # seen by the first
    raw = stack.client(key, second).chat.completions.with_raw_response.create(
        model="bad:m", messages=ask("to the failing provider"), extra_body={"fallback": {"mode": "sequential"}})
    assert raw.headers["x-adaptive-provider"] == "fake_openai"
    assert bad_upstream.stats()["requests"] == before + 2  # the other instance never called it
    health = httpx.get(f"{second}/health", timeout=5).json()["breakers"]
    assert health["store"] == "redis" and health["states"]["bad"]["state"] == "open"


def test_routing_and_response_caches_are_shared(stack: Stack) -> None:
    key, _, _ = stack.funded_key()
    client = stack.client(key)
    prompt = ask(f"route me {uuid.uuid4().hex}")
    routed = client.chat.completions.with_raw_response.create(model="auto", messages=prompt)
    assert routed.headers["x-adaptive-selection"] == "router" and routed.headers["x-adaptive-cache"] == "miss"
    # no-cache skips the response cache: the routing decision comes from the shared routing cache
    again = client.chat.completions.with_raw_response.create(model="auto", messages=prompt,
                                                             extra_headers={"cache-control": "no-cache"})
    assert served_by(again) != served_by(routed)  # round robin: the other instance
    assert again.headers["x-adaptive-selection"] == "cache_exact" and again.headers["x-adaptive-cache"] == "miss"
    assert again.headers["x-adaptive-model"] == routed.headers["x-adaptive-model"]

    question = ask(f"cache me {uuid.uuid4().hex}")
    miss = client.chat.completions.with_raw_response.create(model=PAID, messages=question)
    hit = client.chat.completions.with_raw_response.create(model=PAID, messages=question)
    assert served_by(hit) != served_by(miss)
    assert miss.headers["x-adaptive-cache"] == "miss" and hit.headers["x-adaptive-cache"] == "exact"
    assert hit.parse().choices[0].message.content == miss.parse().choices[0].message.content


def test_the_dashboards_traffic_adds_both_instances_up(stack: Stack) -> None:
    key, _, _ = stack.funded_key()
    first, second = stack.instances

    def traffic(url: str) -> dict[str, Any]:
        response = httpx.get(f"{url}/admin/stats/traffic?minutes=5", headers=ADMIN, timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def requests_seen() -> set[int]:
        return {traffic(url)["totals"]["requests"] for url in stack.instances}

    def settled() -> tuple[int] | None:  # both instances report the same total (earlier tests' traffic)
        seen = requests_seen()
        return (seen.pop(),) if len(seen) == 1 else None

    (before,) = eventually(settled)
    for url, count in ((first, 3), (second, 2)):
        for i in range(count):
            stack.client(key, url).chat.completions.create(model=PAID, messages=ask(f"counted {url} {i}"))
    # each instance copies its buckets to Redis within a second (its own at once when asked)
    assert eventually(lambda: requests_seen() == {before + 5}), requests_seen()
    window = traffic(second)
    assert window["scope"] == "shared" and window["instances_seen"] == 2
    assert window["models"][PAID] >= 5
