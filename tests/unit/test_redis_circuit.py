"""The one Redis circuit every Redis-backed store shares (adapters/redis/circuit.py), on a fake
Redis client and a FrozenClock: the first store that finds Redis frozen sends every store to its
local state at once (no Redis call, hence no timeout, per request), a background PING at most
once per retry interval asks again, and its answer brings every store back to Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from adapters.redis import breaker_store as breaker_lua
from adapters.redis.breaker_history import RedisBreakerHistory
from adapters.redis.breaker_store import RedisBreakerStore
from adapters.redis.circuit import CircuitOpen, RedisCircuit
from adapters.redis.client import redis_probe
from adapters.redis.keyed_cache import RedisResponseCache, RedisRouteCache
from adapters.redis.rate_limiter import SLIDING_WINDOW_LUA, RedisRateLimiter
from adapters.redis.response_store import RedisResponseStore
from adapters.redis.traffic_buckets import RedisTrafficBuckets
from application.breaker_history import BreakerHistory, Transition
from application.health import HealthService
from application.settings import Settings
from application.traffic_stats import Bucket
from domain.breaker import BreakerPolicy
from domain.route_cache import CachedRoute
from tests.clock import FrozenClock

POLICY = BreakerPolicy(failure_threshold=2, success_threshold=1, open_timeout_s=30, half_open_max_probes=1)
KEY = "a" * 64
ROUTE = CachedRoute(model="p:m", alternatives=(), difficulty=0.5, decided_by="builtin", stored_at=1.0)
CLOSED = [b"closed", 0, 0, 0, b"0"]
ANSWERS: dict[str, Any] = {SLIDING_WINDOW_LUA: [1, 0], breaker_lua._ADMIT: 1, breaker_lua._RECORD: CLOSED,
                           breaker_lua._READ: CLOSED}


class FakeRedis:
    """Answers every command (scripts, GET, LRANGE, ZCARD, pipelines, PING) unless `frozen`, when
    each raises TimeoutError as the real client does past its socket timeout. Counts the calls."""

    def __init__(self) -> None:
        self.frozen = False
        self.calls = 0
        self.pings = 0

    def _call(self, answer: Any = None) -> Any:
        self.calls += 1
        if self.frozen:
            raise TimeoutError("frozen")
        return answer

    def register_script(self, source: str) -> Any:
        async def run(keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
            return self._call(ANSWERS.get(source))

        return run

    async def ping(self) -> bool:
        self.pings += 1
        if self.frozen:
            raise TimeoutError("frozen")
        return True

    async def get(self, key: str) -> Any:
        return self._call()

    async def lrange(self, key: str, start: int, end: int) -> list[bytes]:
        return self._call([])  # type: ignore[no-any-return]

    async def zcard(self, key: str) -> int:
        return self._call(0)  # type: ignore[no-any-return]

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        return FakePipeline(self)


class FakePipeline:
    def __init__(self, redis: FakeRedis) -> None:
        self._redis, self._queued = redis, 0

    def __getattr__(self, name: str) -> Any:
        def queue(*args: Any, **kwargs: Any) -> None:
            self._queued += 1

        return queue

    async def execute(self) -> list[Any]:
        return self._redis._call([[] for _ in range(self._queued)])  # type: ignore[no-any-return]

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def stores(redis: Any, circuit: RedisCircuit, clock: FrozenClock) -> dict[str, Any]:
    return {
        "limiter": RedisRateLimiter(redis, "t:", clock=clock, circuit=circuit),
        "breakers": RedisBreakerStore(redis, "t:", circuit=circuit),
        "responses": RedisResponseCache(redis, "t:", clock=clock, circuit=circuit),
        "routes": RedisRouteCache(redis, "t:", clock=clock, circuit=circuit),
        "stored": RedisResponseStore(redis, clock, prefix="t:", circuit=circuit),
        "history": RedisBreakerHistory(redis, "t:", BreakerHistory(size=5), circuit=circuit),
        "traffic": RedisTrafficBuckets(redis, "t:", circuit=circuit),
    }


async def use_every_store(s: dict[str, Any]) -> None:
    """One call of each kind to every store; none may raise, Redis up or not."""
    assert (await s["limiter"].acquire("k", 100)).allowed
    assert await s["breakers"].admit("p", POLICY, 1.0)
    await s["breakers"].record("p", True, POLICY, 1.0)
    await s["breakers"].snapshots()
    await s["responses"].get(KEY)
    await s["routes"].put(KEY, ROUTE, 60)
    await s["routes"].nearest("b", [1.0, 0.0], 0.9)
    await s["routes"].size()
    await s["stored"].put("resp_1", {"id": "resp_1"})
    assert await s["stored"].get("resp_1") is not None or not s["stored"].circuit.degraded
    s["history"].add(Transition("p", "closed", "open", 1.0, 2))
    await s["history"].recent()


async def test_one_frozen_call_sends_every_store_to_local_state_and_a_ping_brings_them_back() -> None:
    clock, redis = FrozenClock(), FakeRedis()
    circuit = RedisCircuit(clock, redis.ping, retry_after_s=1.0)
    s = stores(redis, circuit, clock)
    await use_every_store(s)
    await asyncio.gather(*s["history"]._tasks)  # the transition's copy to Redis, off the request path
    assert not circuit.degraded and redis.calls > 0

    redis.frozen = True
    before = redis.calls
    assert (await s["limiter"].acquire("k", 100)).allowed  # this one call pays the (fake) timeout
    assert circuit.degraded and redis.calls == before + 1
    for _ in range(20):
        await use_every_store(s)
    with pytest.raises(CircuitOpen):
        await s["traffic"].save("i", [Bucket(1)], 60)
    assert redis.calls == before + 1 and redis.pings == 0  # no store called Redis again, no probe yet
    assert await s["routes"].get(KEY) == ROUTE  # the routing cache wrote to its local fallback
    assert all(store.status().get("degraded", True) for name, store in s.items() if hasattr(store, "status"))

    clock.t += 1.0  # the retry interval: the next caller starts one background PING, and does not wait
    await use_every_store(s)
    await use_every_store(s)
    await circuit.settle()
    assert redis.pings == 1 and circuit.degraded and redis.calls == before + 1  # still frozen
    await use_every_store(s)
    assert redis.pings == 1  # no second PING within the interval

    redis.frozen = False
    clock.t += 1.0
    await use_every_store(s)  # starts the PING; served locally meanwhile
    await circuit.settle()
    assert redis.pings == 2 and not circuit.degraded
    after = redis.calls
    await use_every_store(s)
    assert redis.calls > after  # every store is back on Redis
    assert s["breakers"].status() == {"store": "redis", "degraded": False}
    assert s["routes"].status() == {"store": "redis"}


async def test_the_circuit_reports_why_and_since_when() -> None:
    clock, redis = FrozenClock(1_700_000_000.0), FakeRedis()
    circuit = RedisCircuit(clock, redis.ping, retry_after_s=2.0)
    assert circuit.usable() and circuit.status() == {"mode": "redis"}
    circuit.failed(TimeoutError())
    assert not circuit.usable()
    status = circuit.status()
    assert status["status"] == "degraded" and status["degraded"] is True
    assert status["reason"] == "redis unreachable: TimeoutError"
    assert status["down_since"].startswith("2023-11-14T22:13:20")
    with pytest.raises(CircuitOpen):
        circuit.check()
    clock.t += 2.0
    assert await circuit.probe() and circuit.status() == {"mode": "redis"}


def test_no_probe_without_an_event_loop() -> None:
    clock, redis = FrozenClock(), FakeRedis()
    circuit = RedisCircuit(clock, redis.ping, retry_after_s=1.0)
    circuit.failed(ConnectionRefusedError())
    clock.t += 5
    assert not circuit.usable() and redis.pings == 0  # a synchronous caller: the next async one probes


async def test_health_is_degraded_not_unhealthy_while_the_circuit_is_open() -> None:
    clock, redis = FrozenClock(), FakeRedis()
    circuit = RedisCircuit(clock, redis.ping, retry_after_s=1.0)
    health = HealthService(Settings(), probes={"redis": redis_probe(circuit)}, clock=clock)
    ok, report = await health.report()
    assert ok and report["status"] == "healthy" and report["components"]["redis"] == {"status": "up",
                                                                                        "mode": "redis"}
    redis.frozen = True
    ok, report = await health.report()  # /health's own PING finds Redis frozen and opens the circuit
    assert ok and report["status"] == "degraded" and circuit.degraded
    assert report["components"]["redis"]["status"] == "degraded"
    assert report["components"]["redis"]["reason"] == "redis unreachable: TimeoutError"
    pings = redis.pings
    await health.report()
    assert redis.pings == pings  # while open, /health does not call Redis (within the interval)
    redis.frozen = False
    clock.t += 1.0
    await health.report()  # starts the PING
    await circuit.settle()
    ok, report = await health.report()
    assert ok and report["status"] == "healthy"


def test_the_container_gives_every_redis_store_the_same_circuit() -> None:
    from container import build_container

    settings = Settings.model_validate({"redis": {"url": "redis://127.0.0.1:1/0", "timeout_ms": 100,
                                                  "connect_timeout_ms": 50, "retry_interval_ms": 700}})
    c = build_container(settings)
    circuit = c.redis_circuit()
    client = c.redis()
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 0.1  # no connection is made here
    assert client.connection_pool.connection_kwargs["socket_connect_timeout"] == 0.05
    assert circuit is not None and circuit._retry_after_s == 0.7
    shared = [c.breaker_store(), c.cache.store(), c.route_cache(), c.response_store(),
              c.metering.rate_limiter(), c.breaker_history(), c.shared_traffic()._store]  # type: ignore[union-attr]
    assert all(store.circuit is circuit for store in shared)


async def test_component_up_is_zero_while_redis_is_degraded() -> None:
    from adapters.telemetry.prometheus import PrometheusMetrics
    from entrypoints.http.metrics_routes import probe_components

    clock, redis = FrozenClock(), FakeRedis()
    circuit = RedisCircuit(clock, redis.ping, retry_after_s=1.0)
    metrics = PrometheusMetrics()
    await probe_components(metrics, {"redis": redis_probe(circuit)})
    assert metrics.component_up.labels("redis")._value.get() == 1
    redis.frozen = True
    await probe_components(metrics, {"redis": redis_probe(circuit)})
    assert metrics.component_up.labels("redis")._value.get() == 0
