"""Read the real-world corpus and print what the reader made of it.

    python bench/corpus_report.py [CORPUS_FILES_DIR]

Figures: files loaded per format, files rejected per reason, voice records, unique voices (by
content with and without the name), and how many files needed which kind of repair.
"""
from __future__ import annotations

import re
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def default_corpus() -> Path:
    """``$DX7LIVE_SHARED/corpus/files``, else ``../shared/corpus/files`` beside the checkout."""
    shared = os.environ.get("DX7LIVE_SHARED")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return base / "corpus" / "files"


from dx7live.patch.packer import PackResult, collect, unique_rows  # noqa: E402
from dx7live.patch.voice import NAME_OFFSET  # noqa: E402

REPAIRS = [("bad checksum", "checksum mismatch"), ("checksum byte with high bit", "high bit set"),
           ("checksum missing", "checksum byte missing"), ("truncated dump", "truncated"),
           ("byte count 10 00", "10 00 instead"), ("data bytes > 127", "above 127"),
           ("fields clamped", "clamped to"), ("other messages ignored", "ignored"),
           ("empty voices", "empty (all bytes zero)"), ("non-voice dump dropped", "dropped, its data")]


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else default_corpus()
    if not root.is_dir():
        print(f"corpus not found at {root}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    result = PackResult()
    bank = collect(root, progress=sys.stderr.isatty(), result=result)
    seconds = time.perf_counter() - t0
    vced = bank.vced
    nonempty = vced[vced.any(axis=1)]
    print(f"corpus: {root}")
    print(f"files: {result.files_read} read in {seconds:.2f} s; {result.files_read - len(result.rejected)} loaded, "
          f"{len(result.rejected)} rejected")
    print("loaded, by format:")
    for fmt, n in result.formats.most_common():
        print(f"  {n:6d}  {fmt}")
    print("rejected, by reason:")
    for reason, n in Counter(re.sub(r"\b\d+\b", "N", r) for _, r in result.rejected).most_common():
        print(f"  {n:6d}  {reason}")
    print("files needing a repair or note, by kind:")
    for label, needle in REPAIRS:
        n = sum(1 for f in bank.files if any(needle in w for w in f.warnings))
        print(f"  {n:6d}  {label}")
    print(f"voice records: {len(vced)} ({len(vced) - len(nonempty)} all-zero padding)")
    print(f"unique voices (non-empty): {len(unique_rows(nonempty)[0])} by content and name, "
          f"{len(unique_rows(nonempty[:, :NAME_OFFSET])[0])} ignoring the name")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
