"""``python -m devtools.fake_upstream --host 127.0.0.1 --port 9100``."""

from __future__ import annotations

import argparse

from devtools.fake_upstream import serve


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.fake_upstream", description="Fake upstream LLM server (OpenAI, Anthropic, Gemini)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
