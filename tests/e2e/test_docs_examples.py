"""Every code block of docs/library.md and of the README's library section runs, as written,
against the fake upstream, so the documentation cannot drift from the code.

Conventions in the Markdown: `<!-- file: NAME -->` before a block writes it to NAME in the
working directory (it is not run); `<!-- server -->` before a Python block runs it in the
background until `/health` answers on port 8080, runs the next Python block against it, then
stops it with SIGTERM. Other Python blocks run as scripts, `bash` blocks line by line. The docs'
fake upstream `http://127.0.0.1:9100` and port 8080 are replaced by the test's own.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.routing.params_file import DEFAULT_PARAMS_PATH
from tests.e2e.conftest import FakeUpstream, free_port, wait_until_ready

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DOCS_UPSTREAM = "http://127.0.0.1:9100"
DOCS_PORT = "8080"
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*(server|file:\s*(\S+))\s*-->\s*$")


@dataclass
class Block:
    source: str  # "docs/library.md:42"
    lang: str
    code: str
    marker: str = ""
    filename: str = ""


@dataclass
class Case:
    source: str
    kind: str  # "script", "server", "bash"
    code: str
    client: str = ""
    files: dict[str, str] = field(default_factory=dict)


def blocks(path: Path, section: str | None = None) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if section is not None:  # only that `## section`
        start = lines.index(f"## {section}")
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        offset, lines = start, lines[start:end]
    else:
        offset = 0
    found: list[Block] = []
    marker, filename, i = "", "", 0
    while i < len(lines):
        if m := _MARKER.match(lines[i]):
            marker, filename = ("file", m.group(2)) if m.group(2) else ("server", "")
        elif m := _FENCE.match(lines[i]):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            found.append(Block(f"{path.relative_to(ROOT)}:{offset + i + 1}", m.group(1),
                               "\n".join(lines[i + 1:end]) + "\n", marker, filename))
            marker, filename, i = "", "", end
        i += 1
    return found


def cases(path: Path, section: str | None = None) -> list[Case]:
    found = blocks(path, section)
    files = {b.filename: b.code for b in found if b.marker == "file"}
    out: list[Case] = []
    pending_server: Block | None = None
    for block in found:
        if block.marker == "file":
            continue
        if block.lang == "bash":
            out.append(Case(block.source, "bash", block.code, files=files))
        elif block.lang != "python":
            raise AssertionError(f"{block.source}: a block that is neither run nor written to a file")
        elif block.marker == "server":
            pending_server = block
        elif pending_server is not None:
            out.append(Case(pending_server.source, "server", pending_server.code, client=block.code, files=files))
            pending_server = None
        else:
            out.append(Case(block.source, "script", block.code, files=files))
    assert pending_server is None, f"{pending_server.source}: a server block needs a client block after it"
    return out


CASES = [*cases(ROOT / "docs" / "library.md"), *cases(ROOT / "README.md", "Use it as a library")]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _run(code: str, cwd: Path, name: str) -> subprocess.CompletedProcess[str]:
    script = cwd / name
    script.write_text(code)
    return subprocess.run([sys.executable, str(script)], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=60)


def test_the_docs_have_runnable_examples() -> None:
    kinds = [c.kind for c in CASES]
    assert kinds.count("server") == 1 and kinds.count("script") >= 8 and "bash" in kinds
    assert any(c.source.startswith("README.md") for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.source for c in CASES])
def test_docs_example(case: Case, fake: FakeUpstream, tmp_path: Path) -> None:
    if "load_estimator()" in case.code and not DEFAULT_PARAMS_PATH.exists():
        pytest.skip(f"the router's params file {DEFAULT_PARAMS_PATH.name} is not shipped yet")
    for name, content in case.files.items():
        (tmp_path / name).write_text(content)
    port = str(free_port())

    def localize(code: str) -> str:
        return code.replace(DOCS_UPSTREAM, fake.url).replace(DOCS_PORT, port)

    if case.kind == "script":
        result = _run(localize(case.code), tmp_path, "example.py")
        assert result.returncode == 0, f"{case.source}\n{result.stdout}{result.stderr}"
    elif case.kind == "bash":
        for line in filter(None, (line.strip() for line in case.code.splitlines())):
            argv = shlex.split(localize(line))
            assert argv[0] == "python", f"{case.source}: only `python ...` lines are run"
            result = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, env=_env(), capture_output=True,
                                    text=True, timeout=60)
            assert result.returncode == 0, f"{case.source}: {line}\n{result.stdout}{result.stderr}"
    else:
        (tmp_path / "server.py").write_text(localize(case.code))
        server = subprocess.Popen([sys.executable, "server.py"], cwd=tmp_path, env=_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/health", server)
            result = _run(localize(case.client), tmp_path, "client.py")
            assert result.returncode == 0, f"{case.source} (client)\n{result.stdout}{result.stderr}"
            server.send_signal(signal.SIGTERM)
            output, _ = server.communicate(timeout=15)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        assert server.returncode in (0, -signal.SIGTERM)
        assert b"Traceback" not in output, output.decode()
