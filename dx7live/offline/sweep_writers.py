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


def _velocity_levels(recs: Sequence[dict[str, Any]]) -> dict[tuple[int, int], float]:
    """Held loudness (dB) of each recorded (note, velocity)."""
    return {(int(r["note"]), int(r["velocity"])): float(r["loudness_db"]) for r in recs}


# The DX7's velocity response (native/tables.cpp, §5.2): an operator's attenuation is linear in
# VEL_SCALE[MIDI_VEL[velocity >> 2] >> 2] (so the level in dB is, for the carriers).
_MIDI_VEL = [110, 100, 90, 85, 80, 75, 70, 65, 58, 54, 50, 46, 42, 38, 34, 30, 28, 26, 24, 22, 20, 18, 16,
             14, 12, 10, 8, 6, 4, 2, 1, 0]
_VEL_SCALE = [0, 4, 12, 21, 30, 40, 46, 52, 58, 64, 70, 76, 82, 88, 94, 100, 103, 106, 109, 112, 114, 116,
              118, 120, 122, 124, 126, 128, 130, 131, 132, 133]


def _velocity_coordinate(velocity: int) -> float:
    """A coordinate in which the DX7's level (dB) is linear: minus its velocity attenuation."""
    return -float(_VEL_SCALE[_MIDI_VEL[(int(velocity) & 127) >> 2] >> 2])


def velocity_curve(levels: dict[int, float], vels: Sequence[int], velocity: int, lo: int, hi: int
                   ) -> list[tuple[int, float]]:
    """``amp_velcurve_N`` points (every velocity of the layer ``lo..hi`` recorded at ``velocity``):
    the gain (0..1) that brings the recorded level to the synth's level at that velocity. The
    synth's level is interpolated between the recorded velocities' levels (dB) linearly in the
    DX7's own velocity coordinate (its attenuation table: steps of 4 velocities), and extrapolated
    below the lowest recorded velocity with the slope above it. So a sampler plays velocity 64 at
    the synth's level for 64, not at the recorded 75's level scaled by the sampler's default
    square-law velocity curve."""
    v = sorted(vels)
    xs = [_velocity_coordinate(x) for x in v]
    lv = [levels[x] for x in v]

    def level(vel: int) -> float:
        x = _velocity_coordinate(vel)
        if len(v) == 1:
            return lv[0]
        if x <= xs[0]:
            slope = (lv[1] - lv[0]) / (xs[1] - xs[0]) if xs[1] != xs[0] else 0.0
            return lv[0] - (xs[0] - x) * max(0.0, slope)
        for i in range(1, len(v)):
            if x <= xs[i]:
                t = (x - xs[i - 1]) / (xs[i] - xs[i - 1]) if xs[i] != xs[i - 1] else 1.0
                return lv[i - 1] + t * (lv[i] - lv[i - 1])
        return lv[-1]

    ref = levels[velocity]
    return [(x, min(1.0, max(0.0, 10.0 ** ((level(x) - ref) / 20.0)))) for x in range(lo, hi + 1)]


def _read_audio(path: Path) -> tuple[Any, float]:
    if path.suffix.lower() == ".flac":
        import soundfile

        a, sr = soundfile.read(str(path), dtype="float32", always_2d=False)
        return a, float(sr)
    from dx7live._io import read_wav

    a, sr = read_wav(path)
    return a, float(sr)


def release_time(path: Path, hold: float, release: float) -> float:
    """The ``ampeg_release`` that follows a recorded note's release: seconds for it to fall 90 dB
    after note-off (the DX7's release is a straight line in dB: its slope is measured over the
    first 40 dB of the fall, 10 ms RMS frames), at most the recorded ``release`` (the sample
    holds no more)."""
    import numpy as np

    try:
        a, sr = _read_audio(path)
    except Exception:  # unreadable (wave.Error, soundfile's errors, ...): assume the whole release
        return float(release)
    a = np.asarray(a, dtype=np.float64).ravel()
    frame = max(1, int(round(0.01 * sr)))
    off = int(round(hold * sr))
    if off < frame or off >= a.size:
        return float(release)
    ref = float(np.sqrt(np.mean(a[off - frame:off] ** 2)))
    tail = a[off:]
    n = tail.size // frame
    if ref <= 0.0 or n == 0:
        return float(release)
    rms = np.sqrt(np.mean(tail[:n * frame].reshape(n, frame) ** 2, axis=1))
    drop = 20.0 * np.log10(ref / np.maximum(rms, 1e-12))
    below = np.flatnonzero(drop >= 40.0)
    k = int(below[0]) if below.size else n - 1
    t = (k + 1) * frame / sr
    if drop[k] <= 0.0:
        return float(release)  # no fall at all (a drone): the whole recorded tail
    return float(min(max(90.0 * t / float(drop[k]), 0.01), release))


def write_sfz(records: Sequence[dict[str, Any]], out_dir: Path, audio_dir: str = "audio") -> list[Path]:
    """One SFZ instrument per voice in ``sfz/``, its regions mapping the recorded notes and
    velocities to key and velocity ranges that together cover 0..127 x 1..127.

    Played in a sampler (sfizz, ...) it follows the synth: each velocity layer's
    ``amp_velcurve_N`` points give the synth's own velocity response (the sampler's default
    square-law velocity curve would apply velocity a second time); ``ampeg_release`` is the
    voice's own release (:func:`release_time` of its note nearest C4 at the top velocity), so a
    key let go before the recorded hold still rings out; sample paths are plain relative paths (``../audio/<file>``), no ``default_path``.
    """
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
        levels = _velocity_levels(recs)
        first = recs[0]
        probe = min(recs, key=lambda r: (abs(int(r["note"]) - 60), -int(r["velocity"])))
        rel_s = release_time(out_dir / probe["file"], float(probe["hold"]), float(probe["release"]))
        lines = [
            f"// {first['voice_name']} (voice {first['voice_number']}, {first['voice_hash']})",
            f"// from {first['bank_source']}, recorded by dx7live {first['engine_version']}: "
            f"hold {first['hold']} s, release {first['release']} s, {first['sample_rate']:g} Hz",
            "<global>",
            "loop_mode=no_loop",
            "amp_veltrack=100",
            f"ampeg_release={rel_s:.3f}",
            "",
        ]
        for r in sorted(recs, key=lambda r: (int(r["velocity"]), int(r["note"]))):
            note, vel = int(r["note"]), int(r["velocity"])
            lk, hk = key_range[note]
            lv, hv = vel_range[vel]
            row = {v: levels[(note, v)] for v in vels if (note, v) in levels}
            curve = " ".join(f"amp_velcurve_{x}={g:.4f}" for x, g in
                             velocity_curve(row, sorted(row), vel, lv, hv)) if len(row) == len(vels) else ""
            lines.append(f"<region> sample=../{audio_dir}/{Path(r['file']).name} pitch_keycenter={note} "
                         f"lokey={lk} hikey={hk} lovel={lv} hivel={hv}" + (f" {curve}" if curve else ""))
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
