"""``dx7live render``: one note, or a whole MIDI file, to a WAV (or FLAC) file."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from dx7live.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

HELP = """\
Render offline, faster than real time.

One note (the first command to try; no bank = the built-in bank):
  dx7live render --note 60 -o a.wav
  dx7live render BANK.syx --voice 5 --note 48 --velocity 90 --hold 2 --release 1.5 -o note.wav

A Standard MIDI File (notes, program changes, controllers, pitch bend, sysex, tempo changes);
every MIDI channel plays its own DX7, starting on --program (1-based) of the bank:
  dx7live render song.mid --bank BANK.syx --program 3 -o song.wav

The output ends after the last event plus the release tail. Existing files are never
overwritten unless you pass --force. A .flac output needs the soundfile package.

Levels: a MIDI file is normalised by default (its peak to -1 dBFS: many parts and voices add
up far past full scale); --gain DB applies a fixed master gain instead, --no-normalize keeps the
engine's raw sum. A single note is written as rendered unless --normalize or --gain is given.
The gain used is printed. A file that would clip (peak above full scale) is refused unless you
pass --allow-clipping.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("render", help="render a note or a MIDI file to WAV/FLAC", description=HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", help="a MIDI file (.mid) to play, or a bank (.syx) for a single note")
    p.add_argument("-o", "--output", required=True, help="output file (.wav or .flac)")
    p.add_argument("--bank", help="bank for a MIDI file (default: the built-in bank)")
    p.add_argument("--voice", type=int, default=1, help="voice number in the bank, 1-based (single note; default 1)")
    p.add_argument("--program", type=int, default=1,
                   help="starting voice for every MIDI channel, 1-based (MIDI file; default 1)")
    p.add_argument("--note", type=int, default=60, help="MIDI note 0..127 (default 60 = middle C)")
    p.add_argument("--velocity", type=int, default=100, help="velocity 1..127 (default 100)")
    p.add_argument("--hold", type=float, default=1.0, help="seconds the key is held (default 1)")
    p.add_argument("--release", type=float, default=1.0, help="seconds recorded after note-off (default 1)")
    p.add_argument("--tail", type=float, default=None,
                   help="MIDI file: seconds after the last event (default: until silent, at most 10)")
    p.add_argument("--sample-rate", type=float, default=48000, help="output sample rate in Hz (default 48000)")
    p.add_argument("--bits", type=int, choices=(16, 24), default=16, help="bits per sample (default 16)")
    p.add_argument("--gain", type=float, default=None, metavar="DB",
                   help="master gain in dB (instead of normalising)")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="scale the peak to -1 dBFS (default: on for a MIDI file, off for a single note)")
    p.add_argument("--allow-clipping", action="store_true",
                   help="write the file even if its peak is above full scale (it clips)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite the output file if it exists")
    p.set_defaults(func=run)


def _is_midi(path: Path) -> bool:
    if path.suffix.lower() in (".mid", ".midi", ".smf", ".kar"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"MThd"
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    from dx7live._io import same_file
    from dx7live.offline.render import ClippingWarning, apply_gain, peak_db, render_batch, render_midi, resolve_bank, write_audio

    out = Path(args.output)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("wav", "flac"):
        print(f"render: the output must end in .wav or .flac, got {out.name!r}", file=sys.stderr)
        return EXIT_USAGE
    inputs = [p for p in (args.input, args.bank) if p]
    for p in inputs:
        if not Path(p).exists():
            print(f"render: {p}: no such file", file=sys.stderr)
            return EXIT_USAGE
        if same_file(p, out):
            print(f"render: refusing to overwrite the input {p}", file=sys.stderr)
            return EXIT_USAGE
    if args.gain is not None and args.normalize:
        print("render: give either --normalize or --gain, not both", file=sys.stderr)
        return EXIT_USAGE
    if out.exists() and not args.force:
        print(f"render: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.input and _is_midi(Path(args.input)):
            bank = resolve_bank(args.bank)
            if not 1 <= args.program <= len(bank):
                print(f"render: --program must be 1..{len(bank)} for this bank, got {args.program}", file=sys.stderr)
                return EXIT_USAGE
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                audio, gain_db = render_midi(args.input, bank, args.sample_rate, program=args.program - 1,
                                             tail=args.tail, normalize=args.normalize, gain=args.gain,
                                             return_gain=True)
            for w in caught:
                if not issubclass(w.category, ClippingWarning):  # reported below
                    print(f"render: warning: {w.message}", file=sys.stderr)
            what = f"{args.input}: {len(audio) / args.sample_rate:.2f} s"
        else:
            if args.input and args.bank:
                print("render: give the bank either as INPUT or with --bank, not both", file=sys.stderr)
                return EXIT_USAGE
            bank = resolve_bank(args.input or args.bank)
            if not 1 <= args.voice <= len(bank):
                print(f"render: --voice must be 1..{len(bank)} for this bank, got {args.voice}", file=sys.stderr)
                return EXIT_USAGE
            voice = bank[args.voice - 1]
            audio = render_batch(voice, args.note, args.velocity, args.hold, args.hold + args.release,
                                 args.sample_rate)[0]
            what = f"{getattr(voice, 'name', 'voice')} note {args.note} velocity {args.velocity}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ClippingWarning)  # reported below
                audio, gain_db = apply_gain(audio, args.normalize, args.gain, default_normalize=False)
        peak = peak_db(audio)
        if peak > 0.0 and not args.allow_clipping:
            print(f"render: not written: {out} would clip (peak {peak:+.1f} dBFS after a gain of {gain_db:+.1f} dB); "
                  f"leave normalising on, lower --gain, or pass --allow-clipping", file=sys.stderr)
            return EXIT_FAILED
        write_audio(out, audio, args.sample_rate, args.bits, fmt)
    except (ValueError, OSError) as exc:
        print(f"render: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as exc:
        print(f"render: {exc}", file=sys.stderr)
        return EXIT_FAILED
    clip = " (CLIPPED: peak above full scale, written because of --allow-clipping)" if peak > 0.0 else ""
    print(f"wrote {out} ({what}, gain {gain_db:+.1f} dB, peak {peak:+.1f} dBFS{clip})", file=sys.stderr)
    return EXIT_OK
