"""Machine instructions the gateway executes per plain chat request, counted by valgrind.

On a shared virtual machine neither wall time nor CPU time compares two trees fairly (other
guests steal cycles and thrash caches; this one showed 50 % steal). An instruction count does not
move with the machine's load. Each TREE's app is driven in-process as ASGI by bench/asgi_cost.py
under `valgrind --tool=callgrind` twice, with N1 and N2 requests; the difference divided by
N2 - N1 is the count per request, start-up and warm-up cancelled out. The fake upstream runs
outside valgrind. Needs valgrind (Debian package). About two minutes per tree:

    .venv/bin/python bench/instructions.py /path/to/old/checkout .
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent


def collected(tree: Path, n: int, extra: str | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env_extra = ["env", f"EXTRA={extra}"] if extra else []
        out = subprocess.run([*env_extra, "valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out",
                              sys.executable, str(HERE / "asgi_cost.py"), str(tree), "-n", str(n)],
                             capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"valgrind printed no total:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--n1", type=int, default=100)
    parser.add_argument("--n2", type=int, default=600)
    parser.add_argument("--extra", help="JSON merged into every gateway's config (as EXTRA for asgi_cost.py)")
    args = parser.parse_args()
    trees = [Path(t).resolve() for t in args.trees]
    runs = [(tree, n) for tree in trees for n in (args.n1, args.n2)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # one valgrind per core
        counts = dict(zip(runs, pool.map(lambda run: collected(run[0], run[1], args.extra), runs), strict=True))
    print("| tree | instructions per request |\n|---|---|")
    for tree in trees:
        per_request = (counts[(tree, args.n2)] - counts[(tree, args.n1)]) / (args.n2 - args.n1)
        print(f"| {tree.name} | {per_request / 1e6:.3f} M |")


if __name__ == "__main__":
    main()
