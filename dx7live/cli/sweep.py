"""``dx7live sweep``: record an annotated note x velocity grid of voices to disk."""
from __future__ import annotations

import argparse
import re
import sys

from dx7live.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

HELP = """\
Record every (voice, velocity, note) of a grid as an audio file, with one metadata table
(metadata.jsonl and metadata.csv: voice name and hash, source, note, velocity, f0, peak, RMS,
loudness, engine version).

  dx7live sweep rom1a.syx --out sweep/                     all 32 voices, notes 21..108 step 3
  dx7live sweep patches/ --out ns/ --nsynth --notes 21:108  NSynth layout (examples.json + audio/)
  dx7live sweep rom1a.syx --out s/ --voices 1-4 --sfz       + an SFZ instrument per voice
  dx7live sweep big.bin --out w/ --webdataset --shard 3/8   machine 3 of 8, tar shards

Lists: --voices 1-32 or 1,5,9-12; --notes 21:108:3 (start:stop:step, inclusive) or 60,64,67;
--velocities 25,50,75,100,127. Interrupt at any time: a rerun resumes where it stopped.
With --shard I/N each of N machines renders every N-th file (and writes its own
metadata-IofN.* and tar shards); rerun once without --shard when all are done to write the
combined metadata, examples.json and SFZ files (that run writes no tars: every sample is in
exactly one tar whatever the sharding). --shard-samples/--shard-bytes size the tars.
"""


def parse_int_list(text: str, what: str) -> list[int]:
    """'1-4,7' or '21:108:3' (inclusive) or '60,64' -> list of ints."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m_range = re.fullmatch(r"(\d+)-(\d+)", part)
        m_slice = re.fullmatch(r"(\d+):(\d+)(?::(\d+))?", part)
        if re.fullmatch(r"\d+", part):
            out.append(int(part))
        elif m_range:
            a, b = int(m_range.group(1)), int(m_range.group(2))
            if b < a:
                raise argparse.ArgumentTypeError(f"{what}: range {part} runs backwards")
            out += list(range(a, b + 1))
        elif m_slice:
            a, b, step = int(m_slice.group(1)), int(m_slice.group(2)), int(m_slice.group(3) or 1)
            if step < 1 or b < a:
                raise argparse.ArgumentTypeError(f"{what}: {part} must be start:stop:step with stop >= start, step >= 1")
            out += list(range(a, b + 1, step))
        else:
            raise argparse.ArgumentTypeError(f"{what}: cannot read {part!r} (use 1-4,7 or 21:108:3)")
    return out


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sweep", help="record a note x velocity grid of voices to disk", description=HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("patches", nargs="?", help="bank file or directory of patch files (default: built-in bank)")
    p.add_argument("--out", required=True,
                   help="output directory: new or empty, or one holding this sweep (then it resumes)")
    p.add_argument("--voices", type=lambda s: parse_int_list(s, "--voices"), help="1-based voice numbers (default all)")
    p.add_argument("--notes", type=lambda s: parse_int_list(s, "--notes"), default=list(range(21, 109, 3)),
                   help="MIDI notes (default 21:108:3)")
    p.add_argument("--velocities", type=lambda s: parse_int_list(s, "--velocities"), default=[25, 50, 75, 100, 127],
                   help="velocities (default 25,50,75,100,127)")
    p.add_argument("--hold", type=float, default=3.0, help="seconds the key is held (default 3)")
    p.add_argument("--release", type=float, default=1.0, help="seconds recorded after note-off (default 1)")
    p.add_argument("--sample-rate", type=float, default=16000, help="Hz (default 16000)")
    p.add_argument("--format", choices=("wav", "flac"), default="wav", help="audio format (flac needs soundfile)")
    p.add_argument("--bits", type=int, choices=(16, 24), default=16, help="bits per sample (default 16)")
    p.add_argument("--nsynth", action="store_true", help="also write NSynth's examples.json (16-bit WAV)")
    p.add_argument("--sfz", action="store_true", help="also write an SFZ instrument per voice")
    p.add_argument("--webdataset", action="store_true", help="also write wav+json tar shards")
    p.add_argument("--shard", help="I/N: render only this machine's part (0 <= I < N)")
    p.add_argument("--shard-samples", type=int, metavar="N",
                   help="samples per WebDataset tar (default: 1/16 of this run's samples, at most 1000)")
    p.add_argument("--shard-bytes", metavar="SIZE",
                   help="largest WebDataset tar, e.g. 256M or 1G (K/M/G = powers of 1024; default 256M)")
    p.add_argument("--keep-duplicates", action="store_true",
                   help="also record voices that repeat an earlier voice's sound under another name (default: skip them)")
    p.add_argument("--batch-size", type=int, default=64, help="notes per native batch (default 64)")
    p.add_argument("--threads", type=int, default=0, help="render threads (default 0 = all cores)")
    p.add_argument("--progress", action="store_true", default=None, help="show a progress bar even when not a TTY")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dx7live.offline.sweeps import sweep

    try:
        result = sweep(
            args.patches, args.out, voices=args.voices, notes=args.notes, velocities=args.velocities,
            hold=args.hold, release=args.release, sample_rate=args.sample_rate, format=args.format,
            bits=args.bits, nsynth=args.nsynth, sfz=args.sfz, webdataset=args.webdataset, shard=args.shard,
            shard_samples=args.shard_samples, shard_bytes=args.shard_bytes,
            keep_duplicates=args.keep_duplicates, batch_size=args.batch_size,
            threads=args.threads, progress=args.progress,
        )
    except (ValueError, OSError) as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as exc:
        print(f"sweep: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if result.duplicates:
        print(f"sweep: {len(result.duplicates)} voices skipped as duplicates of an earlier voice's sound "
              f"(--keep-duplicates records them)", file=sys.stderr)
    print(f"sweep: {result.rendered} files rendered, {result.skipped} already done, "
          f"{result.total} in this run -> {result.out_dir}", file=sys.stderr)
    return EXIT_OK
