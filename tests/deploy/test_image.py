"""The container image for real: `make image` on the debootstrap base, a container on the host
network, /health, a chat request through the official OpenAI SDK to `adaptive-proxy
fake-upstream`, and `docker stop` draining an in-flight stream before exiting with 0.

Skipped without a Docker engine or the base image (`make base-image`), unless
ADAPTIVE_PROXY_REQUIRE_SERVICES=1 (.ci/run provides both).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from tests.conftest import _unavailable
from tests.e2e.conftest import _serve_command, free_port, three_provider_config, wait_until_ready

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BASE = "adaptive-proxy-base:bookworm"
IMAGE = "adaptive-proxy:test"


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        _unavailable("no Docker engine (.ci/run starts dockerd)")
    if docker("image", "inspect", BASE, check=False).returncode != 0:
        _unavailable(f"no base image {BASE} (make base-image)")
    built = subprocess.run(["make", "image", f"IMAGE={IMAGE}", f"BASE={BASE}"], cwd=ROOT, capture_output=True,
                           text=True, timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return IMAGE


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([*_serve_command(), "fake-upstream", "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/_fake/stats", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_image_serves_and_drains_a_stream_on_docker_stop(image: str, upstream: str, tmp_path: Path) -> None:
    config = three_provider_config(upstream)
    config["server"]["shutdown_timeout_s"] = 20
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "config.yaml").chmod(0o644)
    port, name = free_port(), f"adaptive-proxy-test-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "--network", "host",
           "-v", f"{tmp_path / 'config.yaml'}:/config/config.yaml:ro",
           "-e", "ADAPTIVE_PROXY_CONFIG=/config/config.yaml", "-e", "ADAPTIVE_PROXY_HOST=127.0.0.1",
           "-e", f"ADAPTIVE_PROXY_PORT={port}", "-e", "ADAPTIVE_PROXY_WORKERS=2", image)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{url}/health", timeout_s=60)
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        inspected = json.loads(docker("inspect", name).stdout)[0]
        assert inspected["Config"]["User"] == "10001:10001"
        assert "/health" in " ".join(inspected["Config"]["Healthcheck"]["Test"])
        processes = docker("top", name, "-eo", "pid,args").stdout
        assert processes.count("adaptive-proxy") >= 1 and "multiprocessing" in processes  # two workers

        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o-mini",
                                               messages=[{"role": "user", "content": "hi there"}])
        assert reply.choices[0].message.content

        words = "one two three four five six seven eight"
        stream = client.chat.completions.create(
            model="gpt-4o-mini", stream=True,
            messages=[{"role": "user", "content": f"{words} [[fake:chunk_delay_ms=400]]"}])
        chunks = iter(stream)
        first = next(chunks)  # the stream is in flight: now stop the container
        stopper = threading.Thread(target=docker, args=("stop", "-t", "30", name), kwargs={"timeout": 60})
        started = time.monotonic()
        stopper.start()
        rest = list(chunks)
        text = "".join(c.choices[0].delta.content or "" for c in [first, *rest] if c.choices)
        assert any(c.choices and c.choices[0].finish_reason == "stop" for c in rest)  # completed, not cut
        assert words in text
        stopper.join(timeout=60)
        assert time.monotonic() - started < 30  # drained, not killed at docker stop's deadline
        state = json.loads(docker("inspect", name).stdout)[0]["State"]
        assert (state["Running"], state["ExitCode"]) == (False, 0)
    finally:
        docker("rm", "-f", name, check=False)
