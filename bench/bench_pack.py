"""Time `dx7live pack` on the real-world corpus and print files/s and voices/s.

    python bench/bench_pack.py [CORPUS_FILES_DIR] [--repeat N]

Wall time depends on what else the machine is doing; the CPU time (this process) does not.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def default_corpus() -> Path:
    """``$DX7LIVE_SHARED/corpus/files``, else ``../shared/corpus/files`` beside the checkout."""
    shared = os.environ.get("DX7LIVE_SHARED")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return base / "corpus" / "files"


from dx7live.patch.packer import pack  # noqa: E402


def main() -> int:
    default = default_corpus()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(default))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for fmt in ("bin", "syx"):
                cpu0 = time.process_time()
                r = pack(args.corpus, Path(tmp) / f"run{i}-{fmt}" / f"all.{fmt}")
                times.append((r.seconds, fmt, r, time.process_time() - cpu0))
    for fmt in ("bin", "syx"):
        runs = [t for t in times if t[1] == fmt]
        best = min(runs, key=lambda t: t[0])
        r = best[2]
        print(f"pack -> .{fmt}: best of {len(runs)}: {best[0]:.2f} s wall, {best[3]:.2f} s CPU "
              f"(all: {', '.join(f'{t[0]:.2f}' for t in runs)}); {r.files_read} files, {r.voice_records} voice records, "
              f"{r.unique} unique written; {r.files_read / best[0]:.0f} files/s, {r.voice_records / best[0]:.0f} voices/s")
    coll = Path(args.corpus) / "fcaspe+dx7pytorch" / "dataset" / "collection.bin"
    if coll.is_file():
        from dx7live.patch.reader import load

        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            bank = load(coll)
            best = min(best, time.perf_counter() - t0)
        print(f"load dx7pytorch collection.bin: {len(bank)} voices in {best * 1000:.0f} ms (best of 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
