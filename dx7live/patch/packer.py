"""The packer: read every voice under some folders, drop duplicates, write one collection.

    result = pack(["~/sysex"], "all.bin")          # or "all.syx" for numbered 32-voice banks
    print(result.summary())

Order and provenance: files are read in sorted path order (independent of the file system's
listing order); the voices keep the order in which they were first met. Each kept voice is
described in a manifest (CSV, or JSON lines when its name ends in ``.jsonl``): its index in the
output, name, content hash, the file, format and position it was first found at, and how many
copies of it were read.

De-duplication compares the canonical content: the 155 clamped VCED bytes (``ignore_name=True``:
the first 145, so voices differing only by name are merged and the first name is kept). Voices
whose data is all zero (padding in half-empty banks) are skipped unless ``keep_empty``.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

from dx7live import _io
from dx7live.patch.reader import Bank, load_many
from dx7live.patch.voice import NAME_OFFSET, vced_hashes
from dx7live.patch.writers import _check_target, _file_ids, save_bank, save_collection

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class PackResult:
    """What :func:`pack` did, with the figures its summary prints."""

    files_read: int = 0
    formats: Counter = field(default_factory=Counter)          # file format -> files loaded
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    voice_records: int = 0
    empty_skipped: int = 0
    unique: int = 0                 # voices written
    unique_with_name: int = 0       # distinct voices counting the name
    unique_without_name: int = 0    # distinct voices ignoring the name
    files_with_warnings: int = 0
    warnings: int = 0
    outputs: list[Path] = field(default_factory=list)
    manifest: Optional[Path] = None
    seconds: float = 0.0

    def summary(self, max_rejected: int = 10) -> str:
        """A readable multi-line report."""
        lines = [f"read {self.files_read} files in {self.seconds:.1f} s: "
                 f"{self.files_read - len(self.rejected)} loaded, {len(self.rejected)} rejected"]
        for fmt, n in sorted(self.formats.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {n:7d}  {fmt}")
        if self.rejected:
            lines.append("rejected files by reason:")
            for reason, n in Counter(_reason_kind(r) for _, r in self.rejected).most_common():
                lines.append(f"  {n:7d}  {reason}")
            for path, reason in self.rejected[:max_rejected]:
                lines.append(f"    {path}: {reason}")
            if len(self.rejected) > max_rejected:
                lines.append(f"    ... and {len(self.rejected) - max_rejected} more")
        lines.append(f"voice records read: {self.voice_records} ({self.empty_skipped} empty skipped); "
                     f"{self.warnings} warnings in {self.files_with_warnings} files")
        lines.append(f"unique voices: {self.unique_with_name} (by content and name), "
                     f"{self.unique_without_name} (ignoring the name); written: {self.unique}")
        if len(self.outputs) > 3:
            lines.append(f"wrote {len(self.outputs)} banks: {self.outputs[0]} ... {self.outputs[-1].name}")
        else:
            lines.extend(f"wrote {p}" for p in self.outputs)
        if self.manifest:
            lines.append(f"wrote {self.manifest}")
        return "\n".join(lines)


def _reason_kind(reason: str) -> str:
    """Group rejection reasons: drop the counts and sizes that vary from file to file."""
    import re

    text = re.sub(r"\b\d+\b", "N", reason)
    return text if len(text) <= 100 else text[:97] + "..."


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First occurrence of each distinct row: (kept indices in input order, inverse, counts).

    ``inverse[i]`` is the position in the kept list of row i's content.
    """
    rows = np.ascontiguousarray(rows)
    if len(rows) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    view = rows.view(np.dtype((np.void, rows.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(view, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")       # unique groups in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()], counts[order]


def collect(inputs: Union[PathLike, Iterable[PathLike]], progress: bool = False,
            result: Optional[PackResult] = None) -> Bank:
    """Read every file under ``inputs`` (rejections recorded, never raised) into one Bank,
    filling the file figures of ``result``."""
    result = result if result is not None else PackResult()
    bank = load_many(inputs, progress=progress)
    for f in bank.files:
        result.files_read += 1
        if f.rejected:
            result.rejected.append((f.path, f.error or ""))
            continue
        result.formats[f.format] += 1
        if f.warnings:
            result.files_with_warnings += 1
            result.warnings += len(f.warnings)
    return bank


def pack(inputs: Union[PathLike, Iterable[PathLike]], output: PathLike, *, ignore_name: bool = False,
         keep_empty: bool = False, manifest: Optional[PathLike] = None, overwrite: bool = False,
         progress: bool = False) -> PackResult:
    """Read, de-duplicate and write every DX7 voice found under ``inputs``.

    ``output`` ending in ``.syx`` writes numbered 32-voice banks (``OUT-001.syx`` ...; a single
    bank when there are 32 voices or fewer); anything else a headerless packed collection
    (dx7pytorch ``collection.bin`` format). ``manifest`` defaults to ``OUT.manifest.csv``.
    Nothing is written when no voice was found (``ValueError``). Input files are never
    overwritten, existing outputs only with ``overwrite=True``.
    """
    t0 = time.perf_counter()
    result = PackResult()
    out = Path(output)
    manifest_path = Path(manifest) if manifest is not None else out.with_name(out.stem + ".manifest.csv")
    inputs_list = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    bank = collect(inputs_list, progress=progress, result=result)
    result.voice_records = len(bank)

    vced = bank.vced
    keep = np.flatnonzero(vced.any(axis=1)) if not keep_empty else np.arange(len(vced))
    result.empty_skipped = len(vced) - len(keep)
    first_full, _, _ = unique_rows(vced[keep])
    first_noname, _, _ = unique_rows(vced[keep, :NAME_OFFSET])
    result.unique_with_name = len(first_full)
    result.unique_without_name = len(first_noname)
    first, inverse, counts = (unique_rows(vced[keep, :NAME_OFFSET]) if ignore_name else
                              unique_rows(vced[keep]))
    chosen = keep[first]
    kept = bank.take(chosen)
    result.unique = len(kept)
    if len(kept) == 0:
        raise ValueError("no voices found: nothing written" +
                         (f" ({len(result.rejected)} files rejected)" if result.rejected else ""))

    input_files = _file_ids([f.path for f in bank.files])
    _check_target(manifest_path, overwrite, input_files)
    if out.suffix.lower() == ".syx":
        result.outputs = save_bank(kept, out, split=True, overwrite=overwrite, inputs=input_files)
    else:
        result.outputs = [save_collection(kept, out, overwrite=overwrite, inputs=input_files)]
    _write_manifest(manifest_path, kept, counts, result.outputs, out.suffix.lower() == ".syx")
    result.manifest = manifest_path
    result.seconds = time.perf_counter() - t0
    return result


def _write_manifest(path: Path, kept: Bank, counts: np.ndarray, outputs: list[Path], banks: bool) -> None:
    hashes = vced_hashes(kept.vced)
    src = kept.sources
    names = kept.names
    fields = ["index", "output", "name", "hash", "copies", "file", "format", "position"]
    rows = []
    for i in range(len(kept)):
        s = src[i]
        where = outputs[i // 32].name + f" #{i % 32 + 1}" if banks else str(i)
        rows.append([i, where, names[i], hashes[i], int(counts[i]), s.file, s.format, s.position])
    if path.suffix.lower() == ".jsonl":
        text = "".join(json.dumps(dict(zip(fields, r))) + "\n" for r in rows)
    else:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(fields)
        w.writerows(rows)
        text = buf.getvalue()
    _io.atomic_write(path, text.encode("utf-8"))
