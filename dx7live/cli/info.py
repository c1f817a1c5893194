"""``dx7live info``: list the voices of a file and every problem found in it."""
from __future__ import annotations

import argparse
import json
import sys

from dx7live.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

HELP = """\
List the voices of a DX7 file: number, name, algorithm and a short description, then every
warning (bad checksum, repaired values, ignored messages...).

  dx7live info ROM1A.SYX
  dx7live info collection.bin --json | jq '.voices[].name'

Exit status: 0 if the file was read, 2 if it holds no DX7 voice data (the reason is printed),
1 with --strict if anything had to be repaired.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="list the voices of a file and any problems",
                              description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="a .syx, .mid, .bin or any file holding DX7 voices")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--strict", action="store_true", help="fail (exit 1) if any voice had to be repaired")
    p.set_defaults(func=run)


def describe(bank) -> dict:
    """The information ``info`` prints, as a JSON-ready dict."""
    voices = []
    for i, v in enumerate(bank):
        src = bank.sources[i]
        voices.append({"number": i + 1, "name": v.name, "algorithm": v.algorithm, "feedback": v.feedback,
                       "summary": v.summary(), "format": src.format, "offset": src.offset,
                       "hash": v.content_hash()})
    report = bank.files[0] if bank.files else None
    prefix = f"{report.path}: " if report else ""
    warnings = [w[len(prefix):] if prefix and w.startswith(prefix) else w for w in bank.warnings]
    return {"file": report.path if report else None, "format": report.format if report else None,
            "n_voices": len(bank), "voices": voices, "warnings": warnings}


def run(args: argparse.Namespace) -> int:
    from dx7live.patch.reader import PatchError, load

    try:
        bank = load(args.file)
    except PatchError as exc:
        if args.json:
            print(json.dumps({"file": args.file, "error": exc.reason}))
        print(f"dx7live info: {exc}", file=sys.stderr)
        return EXIT_USAGE
    info = describe(bank)
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        print(f"{info['file']}: {info['n_voices']} voice{'s' if info['n_voices'] != 1 else ''} ({info['format']})")
        for v in info["voices"]:
            print(f"{v['number']:5d}  {v['name']:<10}  alg {v['algorithm']:2d}  {v['summary']}")
        if info["warnings"]:
            print(f"{len(info['warnings'])} warning{'s' if len(info['warnings']) > 1 else ''}:")
            for w in info["warnings"]:
                print(f"  {w}")
    return EXIT_FAILED if args.strict and info["warnings"] else EXIT_OK
