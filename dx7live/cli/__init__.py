"""The ``dx7live`` command: one entry point, one module per subcommand.

Each subcommand module defines ``add_parser(subparsers)`` (which registers its parser and sets
``func``) and a ``run(args) -> int``. Exit codes mean the same everywhere:

    0  success
    1  the work ran but something failed (e.g. some files rejected in a strict run)
    2  bad usage or bad input (argparse errors, unreadable or invalid files)
    3  no device: no audio output or no MIDI input could be opened
    130 interrupted (Ctrl-C)
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_DEVICE = 3
EXIT_INTERRUPTED = 130

# subcommand name -> module in dx7live.cli (in the order --help lists them)
SUBCOMMANDS = ["play", "devices", "render", "sweep", "pack", "info"]

DESCRIPTION = """\
dx7live: a Yamaha DX7 FM synthesizer, live and offline.

  dx7live play                       play the built-in bank from the first MIDI input
  dx7live render --note 60 -o a.wav  render one note of the built-in bank to a WAV
  dx7live render song.mid -o s.wav   render a MIDI file
  dx7live sweep BANK.syx --out DIR   record an annotated note x velocity grid
  dx7live pack DIR -o all.bin        collect and de-duplicate every voice under DIR
  dx7live info BANK.syx              list the voices of a file and any problems

Run `dx7live COMMAND --help` for the options of a command.
"""


def build_parser() -> argparse.ArgumentParser:
    from dx7live import __version__

    parser = argparse.ArgumentParser(
        prog="dx7live", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"dx7live {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a subcommand not built yet in this checkout
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
