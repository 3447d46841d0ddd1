"""Size benchmark: what trimming and stripping save. Prints tables for docs/packaging.md.

    python packaging/measure_size.py [--smoke]

Builds three variants under build/measure/ with packaging/build.py (untrimmed, trimmed,
trimmed + debug info stripped = what CI ships), optionally runs packaging/smoke.sh on
each .deb, and prints their sizes and the largest pieces the trimming removed. Takes a
few minutes on two cores; not part of the test suite.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "measure"
VARIANTS = {
    "untrimmed": ["--no-trim", "--no-strip"],
    "trimmed": ["--no-strip"],
    "trimmed+stripped": [],
}


def tree_sizes(internal: Path, depth: int) -> dict[str, int]:
    """Bytes per path prefix of `depth` components under the bundle's _internal/."""
    sizes: dict[str, int] = {}
    for path in internal.rglob("*"):
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(internal).parts
            key = "/".join(rel[:depth]) if len(rel) > depth else "/".join(rel)
            sizes[key] = sizes.get(key, 0) + path.stat().st_size
    return sizes


def mib(n: float) -> str:
    return f"{n / 2**20:7.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="run packaging/smoke.sh on every variant")
    args = parser.parse_args()
    rows = []
    for name, flags in VARIANTS.items():
        dist, work = OUT / name / "dist", OUT / name / "work"
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "packaging" / "build.py"), "--dist", str(dist), "--work", str(work), *flags],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(f"build of variant {name!r} failed")
        seconds = time.monotonic() - started
        deb = next(dist.glob("processengine_*.deb"))
        smoke = "-"
        if args.smoke:
            ok = subprocess.run(["bash", str(ROOT / "packaging" / "smoke.sh"), str(deb)], capture_output=True, text=True)
            smoke = "passed" if ok.returncode == 0 else "FAILED"
            if ok.returncode != 0:
                sys.stderr.write(f"smoke test of {name} failed:\n{ok.stdout[-2000:]}{ok.stderr[-2000:]}")
        bundle = dist / "processengine"
        total = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
        rows.append((name, total, deb.stat().st_size, seconds, smoke))

    print("\n| variant | bundle MiB | .deb MiB (zstd -9) | build s | smoke |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, total, deb_size, seconds, smoke in rows:
        print(f"| {name} | {mib(total).strip()} | {mib(deb_size).strip()} | {seconds:.0f} | {smoke} |")

    before = OUT / "untrimmed" / "dist" / "processengine" / "_internal"
    after = OUT / "trimmed" / "dist" / "processengine" / "_internal"
    for depth in (1, 4):
        b, a = tree_sizes(before, depth), tree_sizes(after, depth)
        cut = sorted(((size - a.get(key, 0), key) for key, size in b.items()), reverse=True)
        print(f"\nlargest cuts (paths under _internal/, depth {depth}):\n")
        print("| path | untrimmed MiB | trimmed MiB |")
        print("| --- | ---: | ---: |")
        for saved, key in cut[:20]:
            if saved < 256 * 1024:
                break
            print(f"| {key} | {mib(b[key]).strip()} | {mib(a.get(key, 0)).strip()} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
