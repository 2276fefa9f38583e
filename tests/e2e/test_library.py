"""The library end to end: builder-made apps on real uvicorn servers driven by the official SDKs,
`Proxy.run()` in a subprocess, mounting in another ASGI host, and the examples/ front ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from adapters.routing.params_file import DEFAULT_PARAMS_PATH
from entrypoints.library import Proxy, ProxyBuilder
from tests.e2e.conftest import UPSTREAM_KEY, FakeUpstream, free_port, wait_until_ready

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def builder_for(upstream: str, tmp_path: Path) -> ProxyBuilder:
    return (ProxyBuilder()
            .add_openai_compatible_provider("oa", base_url=f"{upstream}/v1", api_key=UPSTREAM_KEY,
                                            models=["gpt-4o-mini"], endpoints=["chat_completions"])
            .add_anthropic_compatible_provider("an", base_url=upstream, api_key=UPSTREAM_KEY,
                                               models=["claude-sonnet-4-5"], endpoints=["messages"])
            .log_level("warning")
            .with_database(f"sqlite:///{tmp_path / 'gateway.db'}"))


@contextmanager
def serving(proxy: Proxy | Any, port: int | None = None) -> Iterator[str]:
    """The proxy on a uvicorn server in a thread (ASGI lifespan starts and stops it)."""
    port = port or free_port()
    if isinstance(proxy, Proxy):
        server = proxy.server("127.0.0.1", port)
    else:  # any ASGI app, with the same quiet options
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(proxy, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_builder_made_app_serves_the_official_sdks(fake: FakeUpstream, tmp_path: Path) -> None:
    proxy = builder_for(fake.url, tmp_path).build()
    with serving(proxy) as url:
        assert proxy.started
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="oa:gpt-4o-mini",
                                               messages=[{"role": "user", "content": "Hello there"}])
        assert reply.choices[0].message.content == "Fake reply to: Hello there"
        assert reply.model_extra is not None and reply.model_extra["provider"] == "oa"
        chunks = client.chat.completions.create(model="oa:gpt-4o-mini", stream=True,
                                                messages=[{"role": "user", "content": "one two three"}])
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip() == \
            "Fake reply to: one two three"
        assert [m.id for m in client.models.list()] == ["oa:gpt-4o-mini", "an:claude-sonnet-4-5"]
        with pytest.raises(openai.BadRequestError, match="unknown model"):
            client.chat.completions.create(model="oa:nope", messages=[{"role": "user", "content": "x"}])

        message = anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0).messages.create(
            model="an:claude-sonnet-4-5", max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
        assert message.content[0].text == "Fake reply to: Hi"  # type: ignore[union-attr]
        assert httpx.post(f"{url}/v1beta/models/x:generateContent", json={}).status_code == 404  # not served
    assert not proxy.started  # lifespan shutdown stopped it


def test_with_timeout_bounds_a_slow_upstream(fake: FakeUpstream, tmp_path: Path) -> None:
    proxy = builder_for(fake.url, tmp_path).with_timeout(0.5).build()
    with serving(proxy) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as error:
            client.chat.completions.create(model="oa:gpt-4o-mini",
                                           messages=[{"role": "user", "content": "[[fake:latency_ms=3000]] slow"}])
        assert error.value.status_code == 504
        assert time.monotonic() - started < 2.5


def test_mounted_in_another_asgi_host_that_forwards_lifespan(fake: FakeUpstream, tmp_path: Path) -> None:
    proxy = builder_for(fake.url, tmp_path).build()
    events: list[str] = []

    async def host(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # a host's own lifespan: start and stop the gateway with it
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await proxy.start()
                    events.append("started")
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await proxy.stop()
                    events.append("stopped")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"].startswith("/llm/"):
            scope = {**scope, "root_path": scope.get("root_path", "") + "/llm"}
            return await proxy.asgi_app(scope, receive, send)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"host"})

    with serving(host) as url:
        assert httpx.get(url).text == "host"
        client = openai.OpenAI(base_url=f"{url}/llm/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="oa:gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
        assert reply.choices[0].message.content == "Fake reply to: Hi"
    assert events == ["started", "stopped"]


RUN_SCRIPT = """
import sys
from entrypoints.library import ProxyBuilder

proxy = (ProxyBuilder()
         .port(1)  # overridden by run(port=...)
         .add_openai_compatible_provider("oa", base_url=sys.argv[1] + "/v1", api_key="test-key",
                                         models=["gpt-4o-mini"])
         .with_setting("server.shutdown_timeout_s", 10)
         .build())
proxy.run(host="127.0.0.1", port=int(sys.argv[2]))
"""


def test_run_serves_until_sigterm_and_drains_in_flight_requests(fake: FakeUpstream, tmp_path: Path) -> None:
    script = tmp_path / "serve.py"
    script.write_text(textwrap.dedent(RUN_SCRIPT))
    port = free_port()
    process = subprocess.Popen([sys.executable, str(script), fake.url, str(port)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{url}/health", process)
        results: list[Any] = []

        def slow_request() -> None:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            results.append(client.chat.completions.create(
                model="oa:gpt-4o-mini", messages=[{"role": "user", "content": "[[fake:latency_ms=800]] drain me"}]))

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(0.3)  # the request is in flight
        process.send_signal(signal.SIGTERM)
        thread.join(timeout=10)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert results and results[0].choices[0].message.content == "Fake reply to: drain me"
    # uvicorn finishes the shutdown, then re-raises the signal so the exit status reports it
    assert process.returncode in (0, -signal.SIGTERM), output.decode()
    log = output.decode()
    assert "Waiting for application shutdown." in log and "Finished server process" in log
    assert "Traceback" not in log


def run_example(name: str, *args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    # Running through runpy lets the same process report whether the web framework was imported.
    check = ("import runpy, sys; sys.argv = sys.argv[1:]\n"
             "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
             "except SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
             "print('WEB=' + str('blacksheep' in sys.modules)); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", check, str(EXAMPLES / name), *args], input=stdin,
                            capture_output=True, text=True, timeout=60, cwd=cwd or ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("WEB=False"), "the example imported BlackSheep"
    return result.stdout.rsplit("WEB=", 1)[0]


def test_chat_cli_chats_through_the_application_layer(fake: FakeUpstream, tmp_path: Path) -> None:
    out = run_example("chat_cli.py", "--base-url", f"{fake.url}/v1", "Hello from the terminal", cwd=tmp_path)
    assert out.splitlines() == ["Fake reply to: Hello from the terminal", "[served by upstream:fake-small (default)]"]
    out = run_example("chat_cli.py", "--base-url", f"{fake.url}/v1", "--model", "fake-large", stdin="From stdin\n",
                      cwd=tmp_path)
    assert out.splitlines()[:2] == ["Fake reply to: From stdin", "[served by upstream:fake-large (default)]"]
    assert not (tmp_path / "var").exists()  # no usage ledger: nothing written


def _issue_key(db_url: str) -> str:
    """A gateway API key stored in `db_url`, through the same container `serve` uses."""
    import asyncio

    from adapters.sql.migrate import upgrade
    from container import build_container

    async def issue() -> str:
        settings = ProxyBuilder().with_database(db_url).enable_api_key_auth().build_settings()
        metering = build_container(settings).metering
        try:
            await upgrade(metering.engine())
            return (await metering.key_service().issue("cli")).plaintext
        finally:
            await metering.engine().dispose()

    return asyncio.run(issue())


def _usage_rows(db_path: Path) -> list[tuple[Any, ...]]:
    import sqlite3

    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT status, status_code, provider, model, api_key_id FROM api_key_usage").fetchall()


def test_chat_cli_is_metered_like_http(fake: FakeUpstream, tmp_path: Path) -> None:
    db_path = tmp_path / "usage.db"
    db_url = f"sqlite:///{db_path}"
    out = run_example("chat_cli.py", "--base-url", f"{fake.url}/v1", "--usage-db", db_url, "Hi", cwd=tmp_path)
    assert out.splitlines()[0] == "Fake reply to: Hi"
    assert _usage_rows(db_path) == [("success", 200, "upstream", "fake-small", None)]
    key = _issue_key(db_url)
    run_example("chat_cli.py", "--base-url", f"{fake.url}/v1", "--usage-db", db_url, "--gateway-key", key, "Hi",
                cwd=tmp_path)
    with pytest.raises(AssertionError, match="authentication"):  # a wrong key is refused, and recorded
        run_example("chat_cli.py", "--base-url", f"{fake.url}/v1", "--usage-db", db_url,
                    "--gateway-key", "ap-wrong", "Hi", cwd=tmp_path)
    rows = _usage_rows(db_path)
    assert [(r[0], r[1]) for r in rows] == [("success", 200), ("success", 200), ("error", 401)]
    assert rows[1][4] is not None and rows[2][4] is None  # attributed to the key; the unknown one to none


def test_chat_cli_falls_back_when_the_first_model_fails(fake: FakeUpstream, tmp_path: Path) -> None:
    fake.script({"status": 503}, {"status": 503})  # the first try and its retry
    out = run_example("chat_cli.py", "--base-url", f"{fake.url}/v1", "--fallback-model", "fake-backup", "Hi",
                      cwd=tmp_path)
    lines = out.splitlines()
    assert lines[:2] == ["Fake reply to: Hi", "[served by backup:fake-backup (default)]"]
    assert lines[2].startswith("[tried upstream, upstream, backup; errors: upstream returned 503")


@pytest.fixture
def params_args(tmp_path: Path) -> list[str]:
    """The shipped router params when present; otherwise a neutral estimator (every prompt typical)."""
    if DEFAULT_PARAMS_PATH.exists():
        return []
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"families": ["all"], "experts": [{"bias": 0.0, "weights": {}}], "reference": 0.5}))
    return ["--params", str(params)]


def test_route_prompt_asks_the_router(params_args: list[str]) -> None:
    def route(bias: float, *flags: str) -> dict[str, Any]:
        out = run_example("route_prompt.py", "--json", "--cost-bias", str(bias), *params_args, *flags,
                          stdin="Prove that there are infinitely many primes.")
        return dict(json.loads(out))

    cheapest, best = route(0.0), route(1.0)
    assert cheapest["model"] == "openai:gpt-4o-mini"
    assert best["model"] == "anthropic:claude-sonnet-4-5"
    assert float(cheapest["estimated_cost_usd"]) < float(best["estimated_cost_usd"])
    assert set(cheapest["fallbacks"]) | {cheapest["model"]} == set(best["fallbacks"]) | {best["model"]}
    assert route(0.0, "--images")["model"] == "gemini:gemini-2.5-flash"  # the cheapest vision model


def test_plan_fallback_replays_an_outage() -> None:
    out = run_example("plan_fallback.py", "--down", "openai", "--recover-at", "45", "--requests", "8", "--json")
    timeline = json.loads(out)
    served = [(r["t"], r["served_by"]) for r in timeline]
    assert served[0] == (0, "anthropic:claude-sonnet-4-5")
    assert timeline[0]["steps"][:2] == ["openai:gpt-4o: failed (breaker closed) -> retry",
                                        "openai:gpt-4o: failed (breaker open) -> next"]
    assert timeline[1]["steps"][0] == "openai:gpt-4o: skipped, breaker open"  # no call while open
    assert served[-1] == (70, "openai:gpt-4o")  # recovered, and the breaker let a probe through
