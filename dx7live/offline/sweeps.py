"""Record annotated note x velocity grids of voices to disk (``dx7live sweep``).

Layout of ``out/``::

    audio/<note_str>.wav        one file per (voice, velocity, note); note_str = <instrument>-<pitch>-<velocity>
    metadata.jsonl, .csv        one row per file (voice name and hash, source, note, velocity, f0, ...)
    examples.json               with nsynth=True: the NSynth layout (16-bit WAV)
    sfz/<instrument>.sfz        with sfz=True: one sampler instrument per voice
    webdataset/*.tar            with webdataset=True: wav+json shards
    .sweep/                     settings and journals that make the sweep resumable

The sweep is resumable and safe to interrupt: every file is written atomically and recorded in
a journal afterwards; a rerun skips what is finished. ``shard=(i, n)`` renders every n-th file
starting at i, so n machines can split one sweep with no coordination (docs/sweeps.md).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from dx7live.offline import sweep_writers as exports
from dx7live.patch.analysis import audio_stats, fundamental
from dx7live.offline.sources import load_patches, voice_name
from dx7live.offline.render import check_sample_rate, render_batch, seconds_to_frames, write_audio

DEFAULT_NOTES = range(21, 109, 3)
DEFAULT_VELOCITIES = (25, 50, 75, 100, 127)
STATE_DIR = ".sweep"


def engine_version() -> str:
    try:
        from dx7live import _engine

        return str(getattr(_engine, "ENGINE_VERSION", "unknown"))
    except ImportError:
        return "unknown"


def slug(name: str) -> str:
    """A file-name-safe lower-case form of a voice name (letters, digits, underscores)."""
    s = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return s or "voice"


@dataclass
class SweepResult:
    """What a sweep did: files rendered now, files already there, and the outputs written."""

    out_dir: Path
    total: int                       # files in this shard
    rendered: int                    # rendered by this call
    skipped: int                     # already finished by an earlier run
    outputs: list[Path] = field(default_factory=list)
    complete: bool = False           # every file of the whole grid (all shards) exists
    duplicates: list[int] = field(default_factory=list)  # voice numbers skipped: the same sound as an earlier one


def _parse_shard(shard: Union[str, tuple[int, int], None]) -> tuple[int, int]:
    if shard is None:
        return 0, 1
    if isinstance(shard, str):
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
        if not m:
            raise ValueError(f"shard must look like I/N (e.g. 0/4), got {shard!r}")
        shard = (int(m.group(1)), int(m.group(2)))
    i, n = int(shard[0]), int(shard[1])
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"shard I/N needs N >= 1 and 0 <= I < N, got {i}/{n}")
    return i, n


def _check_list(name: str, values: Sequence[int], lo: int, hi: int) -> list[int]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= int(v) <= hi:
            raise ValueError(f"{name} must be integers in {lo}..{hi}, got {v!r}")
        out.append(int(v))
    if not out:
        raise ValueError(f"{name} is empty")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} has repeated values")
    return out


class _Grid:
    """The sweep's jobs in a fixed order (voice, velocity, note; note fastest, as the Dataset).
    Job j -> (voice number, velocity, note, instrument name, voice name), computed on access so a
    grid of millions of files costs no memory."""

    def __init__(self, numbers: list[int], velocities: list[int], notes: list[int], insts: dict[int, str],
                 names: dict[int, str]) -> None:
        self.numbers, self.velocities, self.notes, self.insts, self.names = numbers, velocities, notes, insts, names
        self.per_voice = len(velocities) * len(notes)

    def __len__(self) -> int:
        return len(self.numbers) * self.per_voice

    def __getitem__(self, j: int) -> tuple[int, int, int, str, str]:
        v = self.numbers[j // self.per_voice]
        vel = self.velocities[(j // len(self.notes)) % len(self.velocities)]
        return v, vel, self.notes[j % len(self.notes)], self.insts[v], self.names[v]

    def __iter__(self):
        return (self[j] for j in range(len(self)))


def _journal(state: Path, only: Optional[Path] = None) -> dict[str, str]:
    """Finished records (raw JSON lines, parsed only when written out) from every journal in
    ``state`` (any shard), or from the journal ``only``, by note string; lines torn by an
    interruption are ignored."""
    done: dict[str, str] = {}
    for j in [only] if only is not None else sorted(state.glob("journal-*.jsonl")):
        if not j.exists():
            continue
        with open(j, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by an interruption: that file is rendered again
                if isinstance(r, dict) and isinstance(r.get("note_str"), str):
                    done[r["note_str"]] = line.rstrip("\n")
    return done


def _tar_records(state: Path, journal_path: Path, out: Path, fmt: str) -> "_Records":
    """The samples the tar shards of this run's shard layout hold: every finished file recorded
    in its own journal (whichever run with the same ``--shard`` rendered it), except files also
    recorded in a journal that sorts before it (a file rendered twice by differently sharded
    runs): each finished file belongs to exactly one journal, so to exactly one set of tars."""
    mine = _journal(state, journal_path)
    for j in sorted(state.glob("journal-*.jsonl")):
        if j.name >= journal_path.name or not mine:
            break
        for k in _journal(state, j):
            mine.pop(k, None)
    keys = sorted((k for k in mine if (out / f"audio/{k}.{fmt}").exists()), key=_grid_order)
    return _Records([mine[k] for k in keys])


_SIZE_UNITS = {"": 1, "B": 1, "K": 2 ** 10, "KIB": 2 ** 10, "M": 2 ** 20, "MIB": 2 ** 20, "G": 2 ** 30,
               "GIB": 2 ** 30, "T": 2 ** 40, "TIB": 2 ** 40, "KB": 10 ** 3, "MB": 10 ** 6, "GB": 10 ** 9,
               "TB": 10 ** 12}


def parse_size(size: Union[str, int, None]) -> Optional[int]:
    """Bytes from 1000000, "500K", "256M", "1.5G" (K/M/G/T and KiB/MiB/... are powers of 1024;
    KB/MB/GB/TB powers of 1000). None stays None."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        n = int(size)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([A-Za-z]*)\s*", str(size))
        unit = m.group(2).upper() if m else None
        if m is None or unit not in _SIZE_UNITS:
            raise ValueError(f"shard size must look like 1000000, 500K, 256M or 1G, got {size!r}")
        n = int(float(m.group(1)) * _SIZE_UNITS[unit])
    if n < 1:
        raise ValueError(f"shard size must be at least 1 byte, got {size!r}")
    return n


class _Records(Sequence[dict]):
    """Metadata records kept as JSON lines and parsed on access (about 650 bytes per file in
    memory instead of about 3 KB), so multi-million-file sweeps can still be collected."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return _Records(self.lines[i])
        return json.loads(self.lines[i])

    def __iter__(self):
        return (json.loads(line) for line in self.lines)


def portable_source(source: str, patches: Any) -> str:
    """A ``bank_source`` ("file#position") with no local absolute path: relative to the patch
    directory it came from when ``patches`` is a directory holding it, else the file's base name."""
    path, sep, pos = str(source).rpartition("#")
    if not sep:
        path, pos = str(source), ""
    if not os.path.isabs(path):
        return str(source)
    rel = None
    if isinstance(patches, (str, os.PathLike)) and Path(patches).is_dir():
        try:
            rel = Path(os.path.relpath(path, Path(patches).resolve()))
        except ValueError:  # another drive
            rel = None
        if rel is not None and rel.parts and rel.parts[0] == "..":
            rel = None
    name = rel.as_posix() if rel is not None else Path(path).name
    return f"{name}{sep}{pos}"


def _grid_order(key: str) -> tuple[int, int, int]:
    """(voice number, velocity, note) from a note string ``dx7_<voice>_<name>-<note>-<velocity>``."""
    return int(key.split("_", 2)[1]), int(key[-3:]), int(key[-7:-4])


def sweep(
    patches: Any,
    out_dir: Union[str, os.PathLike],
    *,
    voices: Optional[Sequence[int]] = None,
    notes: Sequence[int] = DEFAULT_NOTES,
    velocities: Sequence[int] = DEFAULT_VELOCITIES,
    hold: float = 3.0,
    release: float = 1.0,
    sample_rate: float = 16000,
    format: str = "wav",
    bits: int = 16,
    nsynth: bool = False,
    sfz: bool = False,
    webdataset: bool = False,
    shard: Union[str, tuple[int, int], None] = None,
    shard_samples: Optional[int] = None,
    shard_bytes: Union[int, str, None] = None,
    keep_duplicates: bool = False,
    batch_size: int = 64,
    threads: int = 0,
    progress: Optional[bool] = None,
) -> SweepResult:
    """Render every (voice, velocity, note) of a grid to ``out_dir`` with a metadata table.

    Args:
        patches: a bank file, a directory, a Bank/list of voices, or None (the built-in bank).
        voices: 1-based voice numbers to record (default all).
        notes, velocities: the grid (MIDI 0..127, velocities 1..127).
        hold, release: seconds the key is held, and seconds recorded after note-off.
        format: "wav" (through dx7live._io) or "flac" (needs soundfile); bits 16 or 24.
        nsynth / sfz / webdataset: also write those layouts (see the module docstring).
        shard: (i, n) or "i/n": render only files i, i+n, i+2n, ... of the grid.
        shard_samples, shard_bytes: samples per WebDataset tar, and the most bytes one tar may
            take (an int or "256M"); default: 1/16 of the run's samples, at most 1,000 per tar and
            256 MiB (see :func:`dx7live.exports.plan_shards`).
        keep_duplicates: also record voices whose 145 sound parameters repeat an earlier voice of
            the selection (by default they are skipped, as :class:`dx7live.DX7Dataset` drops them;
            ``SweepResult.duplicates`` lists them).
        progress: show a progress bar on stderr (default: when stderr is a terminal).

    Metadata is portable: ``bank_source`` holds no local absolute path (see
    :func:`portable_source`) and a whole-number ``sample_rate`` is an integer.
    """
    out = Path(out_dir)
    sr = check_sample_rate(sample_rate)
    fmt = str(format).lower()
    if fmt not in ("wav", "flac"):
        raise ValueError(f"format must be wav or flac, got {format!r}")
    if fmt == "flac":
        try:
            import soundfile  # noqa: F401
        except ImportError:
            raise RuntimeError("FLAC output needs the soundfile package: pip install 'dx7live[flac]'") from None
    if bits not in (16, 24):
        raise ValueError(f"bits must be 16 or 24, got {bits}")
    if nsynth and (fmt != "wav" or bits != 16):
        raise ValueError("the NSynth layout is 16-bit WAV: use format='wav', bits=16 with nsynth")
    seconds_to_frames("hold", hold, sr, allow_zero=False)
    seconds_to_frames("release", release, sr)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    shard_i, shard_n = _parse_shard(shard)
    if shard_samples is not None and (isinstance(shard_samples, bool) or not isinstance(shard_samples, (int, np.integer))
                                      or shard_samples < 1):
        raise ValueError(f"shard_samples must be a positive integer, got {shard_samples!r}")
    shard_bytes = parse_size(shard_bytes)
    note_list = _check_list("notes", list(notes), 0, 127)
    vel_list = _check_list("velocities", list(velocities), 1, 127)

    vced, sources = load_patches(patches)
    if vced.shape[0] == 0:
        raise ValueError("no voices to record")
    numbers = list(range(1, vced.shape[0] + 1)) if voices is None else \
        _check_list("voices", list(voices), 1, vced.shape[0])
    from dx7live.patch.voice import vced_hashes

    hashes = vced_hashes(vced, include_name=False)
    duplicates: list[int] = []
    if not keep_duplicates:
        seen_sounds: set[str] = set()
        unique = []
        for v in numbers:
            if hashes[v - 1] in seen_sounds:
                duplicates.append(v)
            else:
                seen_sounds.add(hashes[v - 1])
                unique.append(v)
        numbers = unique
    width = max(3, len(str(vced.shape[0])))
    version = engine_version()

    # settings of this sweep: a rerun into the same folder must use the same ones
    settings = {"sample_rate": sr, "hold": float(hold), "release": float(release), "format": fmt, "bits": bits,
                "engine_version": version,
                # voice numbers name the files: a folder holds one set of patches
                "patches": hashlib.blake2b(vced.tobytes(), digest_size=16).hexdigest()}
    if keep_duplicates:  # a different grid: every run into the folder must agree (absent = skipped)
        settings["keep_duplicates"] = True
    state = out / STATE_DIR
    settings_path = state / "settings.json"
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder")
    if not settings_path.exists() and out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name != STATE_DIR)
        if foreign:  # never write tables over a user's files
            raise ValueError(f"{out} is not empty ({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}) "
                             f"and holds no dx7live sweep: choose a new or empty folder")
    state.mkdir(parents=True, exist_ok=True)
    if settings_path.exists():
        old = json.loads(settings_path.read_text())
        if old != settings:
            diff = ", ".join(f"{k}: {old.get(k)} -> {settings.get(k)}" for k in {**old, **settings}
                             if old.get(k) != settings.get(k))
            raise ValueError(f"{out} already holds a sweep with other settings ({diff}); use another --out")
    else:
        exports.atomic_write(settings_path, json.dumps(settings, indent=1).encode())

    # the whole grid, in a fixed order: voice, velocity, note (note fastest, as the Dataset)
    names = {v: voice_name(vced[v - 1]) for v in numbers}
    insts = {v: f"dx7_{v:0{width}d}_{slug(names[v])}" for v in numbers}
    jobs = _Grid(numbers, vel_list, note_list, insts, names)
    mine = range(shard_i, len(jobs), shard_n)

    done = _journal(state)
    journal_path = state / f"journal-{shard_i}of{shard_n}.jsonl"
    records: dict[int, str] = {}  # job -> its journal line
    todo = []
    for j in mine:
        vnum, vel, note, inst, name = jobs[j]
        key = f"{inst}-{note:03d}-{vel:03d}"
        line = done.get(key)
        if line is not None and (out / f"audio/{key}.{fmt}").exists():
            records[j] = line
        else:
            todo.append(j)
    del done
    skipped = len(records)

    show = sys.stderr.isatty() if progress is None else bool(progress)
    bar = None
    if show:
        try:
            from tqdm import tqdm
        except ImportError:  # tqdm is optional: no bar then
            tqdm = None
    if show and tqdm is not None:
        bar = tqdm(total=len(mine), initial=skipped, unit="file", desc="sweep", file=sys.stderr)
    fundamentals: dict[int, Any] = {}
    duration = float(hold) + float(release)

    def write_one(j: int, audio: np.ndarray) -> dict[str, Any]:
        vnum, vel, note, inst, name = jobs[j]
        key = f"{inst}-{note:03d}-{vel:03d}"
        rel = f"audio/{key}.{fmt}"
        write_audio(out / rel, audio, sr, bits, fmt)
        f = fundamentals[vnum].at(note)
        stats = audio_stats(audio, sr, hold)
        return {
            "file": rel, "note_str": key, "note_id": (vnum * 128 + vel) * 128 + note, "instrument_str": inst,
            "voice_number": vnum, "voice_name": name, "voice_hash": hashes[vnum - 1],
            "bank_source": portable_source(sources[vnum - 1], patches) if vnum - 1 < len(sources) else "",
            "note": note, "velocity": vel,
            "f0_hz": None if not math.isfinite(f.f0_hz) else round(f.f0_hz, 4),
            "f0_confidence": f.confidence, "f0_kind": f.kind,
            "sample_rate": int(sr) if float(sr).is_integer() else sr, "hold": float(hold), "release": float(release),
            "peak": round(stats["peak"], 6), "rms": round(stats["rms"], 6),
            "loudness_db": round(stats["loudness_db"], 2),
            "engine_version": version, "format": fmt, "bits": bits,
        }

    rendered = 0

    def collect(pending: list[tuple[int, Any]], journal: Any) -> None:
        """Wait for a batch's files, then journal them (a record means the file is complete)."""
        nonlocal rendered
        for j, fut in pending:
            line = json.dumps(fut.result())
            records[j] = line
            journal.write(line + "\n")
        journal.flush()
        rendered += len(pending)
        if bar is not None:
            bar.update(len(pending))

    if journal_path.exists() and journal_path.stat().st_size:
        with open(journal_path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        if torn:  # end a line cut by an interruption, so the next record starts on its own line
            with open(journal_path, "a", encoding="utf-8") as f:
                f.write("\n")
    try:
        # render batch k+1 (native threads, GIL released) while batch k is encoded and written
        with open(journal_path, "a", encoding="utf-8") as journal, ThreadPoolExecutor(max_workers=3) as pool:
            pending: list[tuple[int, Any]] = []
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                for j in chunk:
                    vnum = jobs[j][0]
                    if vnum not in fundamentals:
                        fundamentals[vnum] = fundamental(vced[vnum - 1])
                idx = np.array([jobs[j][0] - 1 for j in chunk])
                audio = render_batch(vced[idx], [jobs[j][2] for j in chunk], [jobs[j][1] for j in chunk],
                                     hold, duration, sr, threads=threads)
                collect(pending, journal)
                pending = [(j, pool.submit(write_one, j, audio[k])) for k, j in enumerate(chunk)]
            collect(pending, journal)
    finally:
        if bar is not None:
            bar.close()

    ordered = _Records([records[j] for j in sorted(records)])
    del records
    outputs: list[Path] = []
    if shard_n > 1:
        outputs += exports.write_metadata(ordered, out, f"metadata-{shard_i}of{shard_n}")
    del ordered
    if webdataset:
        outputs += exports.write_webdataset(_tar_records(state, journal_path, out, fmt), out,
                                            f"dx7-{shard_i:04d}of{shard_n:04d}", shard_samples, shard_bytes)
    # combined outputs need the whole grid: written by a run that sees every file finished. They
    # cover every finished file in the folder (NSynth loaders expect each audio/*.wav in examples.json).
    everything = _journal(state)
    complete = all(f"{inst}-{note:03d}-{vel:03d}" in everything for (_, vel, note, inst, _) in jobs)
    if complete:
        keys = sorted((k for k in everything if (out / f"audio/{k}.{fmt}").exists()), key=_grid_order)
        full = _Records([everything[k] for k in keys])
        del everything, keys
        outputs += exports.write_metadata(full, out, "metadata")
        if nsynth:
            outputs.append(exports.write_nsynth(full, out))
        if sfz:
            outputs += exports.write_sfz(full, out)
    elif nsynth or sfz:
        print(f"sweep: shard {shard_i}/{shard_n} done; examples.json/SFZ are written once every shard has "
              f"finished (rerun without --shard to collect)", file=sys.stderr)
    return SweepResult(out, len(mine), rendered, skipped, outputs, complete, duplicates)
