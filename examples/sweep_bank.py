"""Record a bank as an annotated sample library: audio + metadata + NSynth layout + SFZ.

    python examples/sweep_bank.py out/                        # the built-in bank, notes 36..96 step 6
    python examples/sweep_bank.py out/ --bank rom1a.syx --voices 1-4
Then load ``out/sfz/*.sfz`` in any SFZ sampler, or read ``out/examples.json`` with an NSynth loader.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dx7live  # noqa: E402
from dx7live.cli.sweep import parse_int_list  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--bank", default=None, help="bank file or folder (default: the built-in bank)")
    ap.add_argument("--voices", default="1-4", help="voice numbers, e.g. 1-4 (default)")
    ap.add_argument("--notes", default="36:96:6")
    ap.add_argument("--velocities", default="64,127")
    ap.add_argument("--hold", type=float, default=1.0)
    ap.add_argument("--release", type=float, default=0.5)
    args = ap.parse_args()

    result = dx7live.sweep(
        args.bank, args.out, voices=parse_int_list(args.voices, "--voices"),
        notes=parse_int_list(args.notes, "--notes"), velocities=parse_int_list(args.velocities, "--velocities"),
        hold=args.hold, release=args.release, sample_rate=16000, nsynth=True, sfz=True,
    )
    print(f"{result.rendered} files rendered, {result.skipped} were already there")
    rows = [json.loads(line) for line in (Path(args.out) / "metadata.jsonl").read_text().splitlines()]
    print(f"{'file':44s} {'f0 Hz':>8s} {'kind':>10s} {'peak':>6s} {'loud dB':>8s}")
    for r in rows[:: max(1, len(rows) // 8)]:
        f0 = "-" if r["f0_hz"] is None else f"{r['f0_hz']:.1f}"
        print(f"{r['file']:44s} {f0:>8s} {r['f0_kind']:>10s} {r['peak']:6.3f} {r['loudness_db']:8.1f}")
    print(f"SFZ instruments: {', '.join(p.name for p in sorted((Path(args.out) / 'sfz').glob('*.sfz')))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
