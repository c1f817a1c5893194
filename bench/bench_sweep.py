"""Sweep throughput: files/s writing NSynth-style notes (4 s at 16 kHz) of factory ROM voices to disk.

    nice python bench/bench_sweep.py [--voices 1-8] [--out /tmp/dx7sweep] [--corpus ../shared/corpus]

Renders ROM1A voices x 5 velocities x notes 21..108 step 3, once as WAV, once with every extra
layout (NSynth + SFZ + WebDataset), and a resume pass (nothing left to do).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voices", default="1-8", help="ROM1A voices (default 1-8)")
    ap.add_argument("--out", help="scratch directory (default: a temporary one, removed afterwards)")
    ap.add_argument("--corpus", help="path to shared/corpus")
    args = ap.parse_args()

    import dx7live
    from dx7live.cli.sweep import parse_int_list

    sys.path.insert(0, str(REPO / "bench"))
    from bench_dataset import corpus_dir

    rom = corpus_dir(args.corpus) / "factory" / "rom1a.syx"
    voices = parse_int_list(args.voices, "--voices")
    scratch = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="dx7sweep-"))
    notes = list(range(21, 109, 3))
    vels = [25, 50, 75, 100, 127]
    rows = []
    try:
        for name, kw in [("wav + metadata", {}), ("wav + nsynth + sfz + webdataset",
                                                  {"nsynth": True, "sfz": True, "webdataset": True})]:
            out = scratch / name.replace(" ", "").replace("+", "_")
            t = time.perf_counter()
            res = dx7live.sweep(rom, out, voices=voices, notes=notes, velocities=vels, hold=3.0, release=1.0,
                                sample_rate=16000, progress=False, **kw)
            dt = time.perf_counter() - t
            rows.append((name, res.rendered, dt))
            t = time.perf_counter()
            again = dx7live.sweep(rom, out, voices=voices, notes=notes, velocities=vels, hold=3.0, release=1.0,
                                  sample_rate=16000, progress=False, **kw)
            rows.append((f"  resume of the same (skips {again.skipped})", again.total, time.perf_counter() - t))
        print(f"sweep of {len(voices)} ROM1A voices x {len(vels)} velocities x {len(notes)} notes, 4 s at 16 kHz\n")
        print(f"{'run':44s} {'files':>6s} {'seconds':>8s} {'files/s':>8s}")
        for name, n, dt in rows:
            print(f"{name:44s} {n:6d} {dt:8.2f} {n / dt:8.0f}")
    finally:
        if not args.out:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
