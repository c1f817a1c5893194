"""``dx7live pack``: collect every DX7 voice under folders into one de-duplicated collection."""
from __future__ import annotations

import argparse
import sys

from dx7live.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

HELP = """\
Read every file under the given folders and files (recursively), keep each distinct voice once,
and write them as one collection.

  dx7live pack ~/sysex -o all.bin            headerless 128-byte voices (dx7pytorch collection.bin)
  dx7live pack ~/sysex -o all.syx            numbered 32-voice banks all-01.syx, all-02.syx, ...
  dx7live pack a.syx b.syx -o ab.syx --ignore-name

Files are recognised by content (bulk dumps, single voices, MIDI files, headerless banks);
everything else is rejected with a reason and listed in the summary. Files are read in sorted
order, so the output does not depend on the file system. A manifest (CSV, or JSON lines if it
ends in .jsonl) records, for each voice kept, where it was first found and how many copies
were read. Input files are never overwritten; existing outputs only with --force.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("pack", help="collect and de-duplicate every voice under folders",
                              description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="DIR_OR_FILE", help="folders (walked recursively) and files")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="OUT.syx: 32-voice banks; any other name: a headerless packed collection")
    p.add_argument("--manifest", metavar="PATH", help="provenance of each voice (default OUT.manifest.csv)")
    p.add_argument("--ignore-name", action="store_true",
                   help="treat voices that differ only by their name as duplicates (the first name is kept)")
    p.add_argument("--keep-empty", action="store_true", help="keep all-zero voices (padding) instead of skipping")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--strict", action="store_true", help="exit with status 1 if any file was rejected")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    p.add_argument("--show-rejected", type=int, default=10, metavar="N", help="list up to N rejected files (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dx7live.patch.packer import pack
    from dx7live.patch.reader import PatchError

    progress = args.progress or (sys.stderr.isatty() and not args.quiet)
    try:
        result = pack(args.inputs, args.output, ignore_name=args.ignore_name, keep_empty=args.keep_empty,
                      manifest=args.manifest, overwrite=args.force, progress=progress)
    except (PatchError, ValueError, FileExistsError, IsADirectoryError) as exc:
        print(f"dx7live pack: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"dx7live pack: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not args.quiet:
        print(result.summary(max_rejected=args.show_rejected))
    return EXIT_FAILED if args.strict and result.rejected else EXIT_OK
