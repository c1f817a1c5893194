"""Writers for sweep outputs: metadata tables, the NSynth layout, SFZ instruments, WebDataset shards.

Each writer takes the sweep's per-file records (plain dicts, see :mod:`dx7live.offline.sweeps`) and writes
atomically through :mod:`dx7live._io`, so an interrupted run never leaves a half-written table.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import re
import tarfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from dx7live._io import atomic_path, atomic_write

# ---------------------------------------------------------------- metadata tables

METADATA_FIELDS = [
    "file", "note_str", "voice_number", "voice_name", "voice_hash", "bank_source", "note", "velocity",
    "f0_hz", "f0_confidence", "f0_kind", "sample_rate", "hold", "release", "peak", "rms", "loudness_db",
    "engine_version", "format", "bits",
]


def portable_record(r: dict[str, Any]) -> dict[str, Any]:
    """A record as written to tables: whole-number sample rates as integers (16000, not 16000.0)."""
    sr = r.get("sample_rate")
    if isinstance(sr, float) and sr.is_integer():
        r = dict(r, sample_rate=int(sr))
    return r


def write_metadata(records: Sequence[dict[str, Any]], out_dir: Path, stem: str = "metadata") -> list[Path]:
    """``<stem>.jsonl`` (one JSON object per line) and ``<stem>.csv`` with the same columns,
    streamed record by record."""
    jsonl = out_dir / f"{stem}.jsonl"
    with atomic_path(jsonl) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(portable_record(r)) + "\n")
    path_csv = out_dir / f"{stem}.csv"
    with atomic_path(path_csv) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METADATA_FIELDS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in records:
            w.writerow(portable_record(r))
    return [jsonl, path_csv]


# ---------------------------------------------------------------- NSynth

# NSynth's vocabularies (the dataset's published field definitions).
NSYNTH_FAMILIES = ["bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string",
                   "synth_lead", "vocal"]
NSYNTH_SOURCES = ["acoustic", "electronic", "synthetic"]
NSYNTH_QUALITIES = ["bright", "dark", "distortion", "fast_decay", "long_release", "multiphonic",
                    "nonlinear_env", "percussive", "reverb", "tempo-synced"]
NSYNTH_FIELDS = ["note", "note_str", "instrument", "instrument_str", "pitch", "velocity", "sample_rate",
                 "qualities", "qualities_str", "instrument_family", "instrument_family_str",
                 "instrument_source", "instrument_source_str"]

# A DX7 voice has no family; guess one from words in its name, else "synth_lead".
_FAMILY_WORDS = [  # checked in this order; the first match wins
    ("reed", r"SAX|CLAR|OBOE|BASSOON|REED|HARMONICA|ACCORD"),
    ("keyboard", r"PIANO|PNO|\bE\.? ?P\b|HARPSI|CELEST|KEYB|RHODES|WURL|CLAV"),
    ("bass", r"BASS"), ("brass", r"BRASS|BRS|HORN|TRUMP|TRPT|TROMB|TUBA"),
    ("flute", r"FLUT|PICCOL|PAN ?FL|RECORDER"),
    ("guitar", r"GUIT|GTR|KOTO|HARP|SITAR|BANJO|LUTE|PLUCK"),
    ("mallet", r"MARIMB|VIBE|XYLO|BELL|GLOCK|CHIME|TUBULAR|STEEL ?DR"), ("organ", r"ORGAN|\bORG\b|PIPE"),
    ("string", r"STRING|STRNG|STRG|VIOLIN|CELLO|VIOLA|\bSTR\b"),
    ("vocal", r"VOICE|VOX|CHOIR|VOCAL|AAH|OOH"),
]


def guess_family(name: str) -> int:
    """NSynth instrument family index from words in a voice name (``synth_lead`` if none match)."""
    up = name.upper()
    for family, pattern in _FAMILY_WORDS:
        if re.search(pattern, up):
            return NSYNTH_FAMILIES.index(family)
    return NSYNTH_FAMILIES.index("synth_lead")


def nsynth_record(r: dict[str, Any]) -> dict[str, Any]:
    """The NSynth ``examples.json`` entry of one sweep record."""
    fam = guess_family(r["voice_name"])
    return {
        "note": int(r["note_id"]),
        "note_str": r["note_str"],
        "instrument": int(r["voice_number"]) - 1,
        "instrument_str": r["instrument_str"],
        "pitch": int(r["note"]),
        "velocity": int(r["velocity"]),
        "sample_rate": int(round(r["sample_rate"])),
        "qualities": [0] * len(NSYNTH_QUALITIES),  # not annotated: all qualities absent
        "qualities_str": [],
        "instrument_family": fam,
        "instrument_family_str": NSYNTH_FAMILIES[fam],
        "instrument_source": NSYNTH_SOURCES.index("synthetic"),
        "instrument_source_str": "synthetic",
    }


def write_nsynth(records: Sequence[dict[str, Any]], out_dir: Path) -> Path:
    """``examples.json`` keyed by note string, beside ``audio/<note_str>.wav`` (NSynth layout).
    Streamed: one entry per line inside the object."""
    path = out_dir / "examples.json"
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write("{")
        for i, r in enumerate(records):
            f.write(("\n" if i == 0 else ",\n") + json.dumps(r["note_str"]) + ": " + json.dumps(nsynth_record(r)))
        f.write("\n}\n")
    return path


# ---------------------------------------------------------------- SFZ

def _ranges(values: Sequence[int], lo: int, hi: int, midpoint: bool) -> list[tuple[int, int]]:
    """Contiguous ranges covering lo..hi, one per sorted value (split at midpoints, or upward)."""
    v = sorted(values)
    out = []
    for i, x in enumerate(v):
        if midpoint:
            a = lo if i == 0 else (v[i - 1] + x) // 2 + 1
            b = hi if i == len(v) - 1 else (x + v[i + 1]) // 2
        else:  # velocity layers: each recorded velocity serves from the previous one up to itself
            a = lo if i == 0 else v[i - 1] + 1
            b = hi if i == len(v) - 1 else x
        out.append((a, b))
    return out


def write_sfz(records: Sequence[dict[str, Any]], out_dir: Path, audio_dir: str = "audio") -> list[Path]:
    """One SFZ instrument per voice in ``sfz/``, its regions mapping the recorded notes and
    velocities to key and velocity ranges that together cover 0..127 x 1..127."""
    paths = []
    seen: set[str] = set()
    # records come grouped by voice (the sweep's order): one voice in memory at a time
    for inst, group in itertools.groupby(records, key=lambda r: r["instrument_str"]):
        if inst in seen:
            raise ValueError(f"write_sfz: the records of {inst} are not together (sort them by voice)")
        seen.add(inst)
        recs = list(group)
        notes = sorted({int(r["note"]) for r in recs})
        vels = sorted({int(r["velocity"]) for r in recs})
        key_range = dict(zip(notes, _ranges(notes, 0, 127, midpoint=True)))
        vel_range = dict(zip(vels, _ranges(vels, 1, 127, midpoint=False)))
        first = recs[0]
        lines = [
            f"// {first['voice_name']} (voice {first['voice_number']}, {first['voice_hash']})",
            f"// from {first['bank_source']}, recorded by dx7live {first['engine_version']}: "
            f"hold {first['hold']} s, release {first['release']} s, {first['sample_rate']:g} Hz",
            "<control>",
            f"default_path=../{audio_dir}/",
            "<global>",
            "loop_mode=no_loop",
            "ampeg_release=0.05",
            "",
        ]
        for r in sorted(recs, key=lambda r: (int(r["velocity"]), int(r["note"]))):
            lk, hk = key_range[int(r["note"])]
            lv, hv = vel_range[int(r["velocity"])]
            lines.append(f"<region> sample={Path(r['file']).name} pitch_keycenter={int(r['note'])} "
                         f"lokey={lk} hikey={hk} lovel={lv} hivel={hv}")
        path = out_dir / "sfz" / f"{inst}.sfz"
        atomic_write(path, ("\n".join(lines) + "\n").encode())
        paths.append(path)
    return paths


# ---------------------------------------------------------------- WebDataset

DEFAULT_SHARD_SAMPLES = 1000          # at most this many samples per tar by default ...
DEFAULT_MIN_SHARDS = 16               # ... but small sets are cut into at least this many tars
DEFAULT_SHARD_BYTES = 256 * 2 ** 20   # and no tar grows past 256 MiB (unless one sample is larger)


def _tar_member_bytes(size: int) -> int:
    """Bytes one member takes in a tar: a 512-byte header and the data padded to 512 bytes."""
    return 512 + -(-size // 512) * 512


def plan_shards(sizes: Sequence[int], shard_samples: int | None = None,
                shard_bytes: int | None = None) -> list[tuple[int, int]]:
    """Cut samples of the given byte sizes (in order) into ``(start, stop)`` tar shards.

    ``shard_samples``: samples per tar (default: ``ceil(n / DEFAULT_MIN_SHARDS)`` up to
    ``DEFAULT_SHARD_SAMPLES``, so a small set still has enough shards for several DataLoader
    workers). ``shard_bytes``: a tar is closed before it would grow past this size (default
    ``DEFAULT_SHARD_BYTES``); a single sample larger than that gets a tar of its own.
    """
    n = len(sizes)
    if shard_samples is None:
        per = min(DEFAULT_SHARD_SAMPLES, max(1, -(-n // DEFAULT_MIN_SHARDS)))
    else:
        per = int(shard_samples)
        if per < 1:
            raise ValueError(f"shard_samples must be a positive integer, got {shard_samples!r}")
    limit = DEFAULT_SHARD_BYTES if shard_bytes is None else int(shard_bytes)
    if limit < 1:
        raise ValueError(f"shard_bytes must be a positive size, got {shard_bytes!r}")
    out: list[tuple[int, int]] = []
    start, used = 0, 1024  # a tar ends with two zero blocks
    for i, size in enumerate(sizes):
        if i > start and (i - start >= per or used + size > limit):
            out.append((start, i))
            start, used = i, 1024
        used += size
    if n > start:
        out.append((start, n))
    return out


def webdataset_json(r: dict[str, Any]) -> bytes:
    return json.dumps(portable_record(r)).encode()


def write_webdataset(records: Sequence[dict[str, Any]], out_dir: Path, prefix: str,
                     shard_samples: int | None = None, shard_bytes: int | None = None) -> list[Path]:
    """Tar shards ``webdataset/<prefix>-NNNNN.tar`` of ``<key>.<wav|flac>`` + ``<key>.json`` pairs
    (the WebDataset convention: members sharing a key before the first dot form one sample).

    The shards of ``prefix`` hold exactly ``records`` (sizes: :func:`plan_shards`): tars of this
    prefix left from an earlier run beyond the new last one are deleted, so no sample is ever in
    two tars of one prefix.
    """
    recs = list(records)
    sizes = [_tar_member_bytes((out_dir / r["file"]).stat().st_size) + _tar_member_bytes(len(webdataset_json(r)))
             for r in recs]
    paths = []
    for k, (a, b) in enumerate(plan_shards(sizes, shard_samples, shard_bytes)):
        chunk = recs[a:b]
        path = out_dir / "webdataset" / f"{prefix}-{k:05d}.tar"
        paths.append(path)
        expected = [n for r in chunk for n in (f"{r['note_str']}.{r['format']}", f"{r['note_str']}.json")]
        if _tar_names(path) == expected:
            continue  # written by an earlier run with the same samples: a resumed sweep skips it
        with atomic_path(path) as tmp:
            with tarfile.open(tmp, "w") as tar:
                for r in chunk:
                    key = r["note_str"]
                    audio = (out_dir / r["file"]).read_bytes()
                    for name, data in ((f"{key}.{r['format']}", audio), (f"{key}.json", webdataset_json(r))):
                        info = tarfile.TarInfo(name)
                        info.size = len(data)
                        info.mtime = 0  # reproducible shards
                        tar.addfile(info, io.BytesIO(data))
    keep = {p.name for p in paths}
    folder = out_dir / "webdataset"
    if folder.is_dir():
        pattern = re.compile(re.escape(prefix) + r"-\d{5}\.tar")
        for old in folder.iterdir():
            if pattern.fullmatch(old.name) and old.name not in keep:
                old.unlink()  # a stale tar of this prefix: its samples are in the new ones
    return paths


def _tar_names(path: Path) -> list[str] | None:
    """Member names of an existing tar, or None if there is none (or it is unreadable)."""
    try:
        with tarfile.open(path) as tar:
            return tar.getnames()
    except (OSError, tarfile.TarError):
        return None
