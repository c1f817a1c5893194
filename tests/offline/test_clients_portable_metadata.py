"""Sweep metadata read by real clients (json, csv, pandas, NSynth-style loaders): portable paths,
integer sample rates, duplicate voices skipped as DX7Dataset skips them."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dx7live
from dx7live.offline.sources import load_patches
from dx7live.patch.voice import Voice
from dx7live.patch.writers import save_bank

from support.paths import REPO  # noqa: E402
GRID = dict(notes=[60], velocities=[100], hold=0.1, release=0.1, sample_rate=8000, progress=False)


def bank_with_duplicates(path: Path) -> Path:
    a, b = Voice.init(), Voice.init()
    a.op[1].coarse, a.name = 2, "FIRST"
    b.op[1].coarse, b.name = 3, "SECOND"
    same = Voice(a.to_vced())
    same.name = "SAME AGAIN"  # the same sound under another name
    save_bank([a, b, same], path)  # padded to 32 with INIT VOICE copies
    return path


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]


def test_no_absolute_paths_and_integer_sample_rates(tmp_path):
    patches = tmp_path / "patches"
    (patches / "sub").mkdir(parents=True)
    bank_with_duplicates(patches / "sub" / "mine.syx")
    for arg, expected in ((patches, "sub/mine.syx#"), (patches / "sub" / "mine.syx", "mine.syx#")):
        out = tmp_path / f"out-{Path(arg).name}"
        dx7live.sweep(arg, out, nsynth=True, sfz=True, **GRID)
        recs = rows(out)
        assert recs and all(r["bank_source"].startswith(expected) for r in recs), recs[0]["bank_source"]
        assert all(type(r["sample_rate"]) is int and r["sample_rate"] == 8000 for r in recs)
        examples = json.loads((out / "examples.json").read_text())
        assert all(type(e["sample_rate"]) is int and e["sample_rate"] == 8000 for e in examples.values())
        with open(out / "metadata.csv", newline="") as f:
            assert {row["sample_rate"] for row in csv.DictReader(f)} == {"8000"}
        for path in [out / "metadata.jsonl", out / "metadata.csv", *sorted((out / "sfz").glob("*.sfz"))]:
            text = path.read_text()
            assert str(tmp_path) not in text and str(REPO) not in text, path
    # the built-in bank too (its file lives in the package)
    out = tmp_path / "builtin"
    dx7live.sweep(None, out, voices=[1], sfz=True, **GRID)
    assert not os.path.isabs(rows(out)[0]["bank_source"].rpartition("#")[0])
    assert str(REPO) not in next((out / "sfz").glob("*.sfz")).read_text()
    # a non-integral rate stays a float
    out = tmp_path / "odd"
    dx7live.sweep(None, out, voices=[1], **dict(GRID, sample_rate=11025.5))
    assert rows(out)[0]["sample_rate"] == 11025.5


def test_duplicates_are_skipped_by_default_like_the_dataset(tmp_path):
    bank = bank_with_duplicates(tmp_path / "b.syx")
    res = dx7live.sweep(bank, tmp_path / "d", **GRID)
    kept = sorted({r["voice_number"] for r in rows(tmp_path / "d")})
    ds = dx7live.DX7Dataset(bank, notes=[60], velocities=[100], sample_rate=8000, duration=0.2, note_duration=0.1)
    assert len(kept) == ds.n_patches == 3  # FIRST, SECOND, one INIT VOICE
    assert [int(i) + 1 for i in ds.source_index] == kept
    assert 3 in res.duplicates and len(res.duplicates) == 32 - 3
    assert len({r["voice_hash"] for r in rows(tmp_path / "d")}) == 3
    res = dx7live.sweep(bank, tmp_path / "k", keep_duplicates=True, **GRID)
    assert len(rows(tmp_path / "k")) == 32 and res.duplicates == []
    with pytest.raises(ValueError, match="keep_duplicates"):
        dx7live.sweep(bank, tmp_path / "k", **GRID)  # one folder, one grid


def test_cli_keep_duplicates(tmp_path):
    bank = bank_with_duplicates(tmp_path / "b.syx")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    base = [sys.executable, "-m", "dx7live", "sweep", str(bank), "--notes", "60", "--velocities", "100",
            "--hold", "0.1", "--release", "0.1", "--sample-rate", "8000"]
    r = subprocess.run(base + ["--out", str(tmp_path / "a")], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "29 voices skipped as duplicates" in r.stderr, r.stderr
    assert len(rows(tmp_path / "a")) == 3
    r = subprocess.run(base + ["--out", str(tmp_path / "b"), "--keep-duplicates"], capture_output=True, text=True,
                       env=env)
    assert r.returncode == 0 and len(rows(tmp_path / "b")) == 32


def test_pandas_reads_the_tables(tmp_path):
    pd = pytest.importorskip("pandas")
    dx7live.sweep(bank_with_duplicates(tmp_path / "b.syx"), tmp_path / "o", **GRID)
    a = pd.read_json(tmp_path / "o" / "metadata.jsonl", lines=True)
    b = pd.read_csv(tmp_path / "o" / "metadata.csv")
    assert len(a) == len(b) == 3 and a["sample_rate"].dtype.kind == "i" and b["sample_rate"].dtype.kind == "i"
    assert list(a["bank_source"]) == list(b["bank_source"]) == ["b.syx#1", "b.syx#2", "b.syx#4"]
    assert len(load_patches(tmp_path / "b.syx").vced) == 32
