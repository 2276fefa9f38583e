"""`adaptive-proxy serve` under tracemalloc, for bench/soak.py --trace (a bench tool, not a product
switch): SIGUSR1 writes a snapshot to `$SOAK_TRACE_DIR/snapshot-<n>.bin` (n = 1, 2, ...).

Usage: .venv/bin/python bench/traced_gateway.py serve --config FILE --port PORT
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FRAMES = 12
_taken = 0


def _snapshot(_signum: int, _frame: object) -> None:
    global _taken
    _taken += 1
    gc.collect()
    path = Path(os.environ["SOAK_TRACE_DIR"]) / f"snapshot-{_taken}.bin"
    tracemalloc.take_snapshot().dump(str(path.with_suffix(".tmp")))
    path.with_suffix(".tmp").rename(path)  # the bench waits for the final name


def main() -> None:
    import container  # noqa: F401  the imports first, untraced: startup stays quick
    import entrypoints.http.app  # noqa: F401
    from entrypoints.cli import main as cli_main

    tracemalloc.start(FRAMES)
    signal.signal(signal.SIGUSR1, _snapshot)
    cli_main(sys.argv[1:])


if __name__ == "__main__":
    main()
