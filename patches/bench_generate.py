#!/usr/bin/env python3
"""Speed of the patch generator: prints voices per second for a few batch sizes.

    python patches/bench_generate.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dx7live.patch.generate import generate_vced, generate_voices  # noqa: E402


def main() -> int:
    generate_vced(10, seed=0)   # load the statistics once
    for n in (1_000, 10_000, 100_000):
        t = time.perf_counter()
        generate_vced(n, seed=1)
        dt = time.perf_counter() - t
        print(f"generate_vced({n:>7,}): {dt * 1e3:8.1f} ms  ({n / dt:,.0f} voices/s)")
    t = time.perf_counter()
    bank = generate_voices(10_000, seed=1)
    voices = list(bank)
    dt = time.perf_counter() - t
    print(f"generate_voices(10,000) + 10,000 Voice objects: {dt * 1e3:.1f} ms ({len(voices)} voices)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
