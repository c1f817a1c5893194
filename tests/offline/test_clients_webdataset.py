"""Sweep tar shards read by the real WebDataset reader through a multi-worker DataLoader."""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

wds = pytest.importorskip("webdataset")
torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

from dx7live.offline.sweep_writers import plan_shards  # noqa: E402
from dx7live.offline.sweeps import parse_size  # noqa: E402
from dx7live.patch.voice import Voice  # noqa: E402
from dx7live.patch.writers import save_bank  # noqa: E402

from support.paths import REPO  # noqa: E402
NOTES = "48,60,72"
VELS = "50,127"


def bank(path: Path) -> Path:
    voices = []
    for k in range(3):
        v = Voice.init()
        v.op[1].coarse = 1 + k
        v.op[2].output_level = 60 + 10 * k
        v.name = f"TEST {k}"
        voices.append(v)
    save_bank(voices, path)
    return path


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "dx7live", "sweep", *args], check=True, capture_output=True, text=True,
                   cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))


def read_keys(folder: Path, num_workers: int = 2) -> collections.Counter:
    urls = sorted(str(p) for p in (folder / "webdataset").glob("*.tar"))
    assert urls
    ds = wds.WebDataset(urls, shardshuffle=False, workersplitter=wds.split_by_worker) \
        .decode().to_tuple("__key__", "json")
    seen: collections.Counter = collections.Counter()
    for key, meta in DataLoader(ds, batch_size=None, num_workers=num_workers):
        assert meta["note_str"] == key
        seen[key] += 1
    return seen


def sweep_args(patches: Path, out: Path) -> list[str]:
    return [str(patches), "--out", str(out), "--notes", NOTES, "--velocities", VELS, "--hold", "0.2",
            "--release", "0.1", "--sample-rate", "8000", "--webdataset", "--voices", "1-3"]


def test_sharded_sweep_then_collect_gives_each_sample_once(tmp_path):
    patches = bank(tmp_path / "b.syx")
    out = tmp_path / "s"
    cli(*sweep_args(patches, out), "--shard", "0/2")
    cli(*sweep_args(patches, out), "--shard", "1/2")
    cli(*sweep_args(patches, out))  # the collecting run of docs/sweeps.md
    seen = read_keys(out)
    assert len(seen) == 18 and set(seen.values()) == {1}, seen
    names = sorted(p.name for p in (out / "webdataset").glob("*.tar"))
    assert names and all(n.startswith(("dx7-0000of0002-", "dx7-0001of0002-")) for n in names)
    # the per-shard tables and the combined one agree
    rows = (out / "metadata.jsonl").read_text().splitlines()
    assert len(rows) == 18


def test_unsharded_and_partly_sharded_sweeps_give_each_sample_once(tmp_path):
    patches = bank(tmp_path / "b.syx")
    plain = tmp_path / "plain"
    cli(*sweep_args(patches, plain))
    seen = read_keys(plain)
    assert len(seen) == 18 and set(seen.values()) == {1}
    # one shard of three, then a run without --shard that renders the rest
    mixed = tmp_path / "mixed"
    cli(*sweep_args(patches, mixed), "--shard", "1/3")
    cli(*sweep_args(patches, mixed))
    seen = read_keys(mixed)
    assert len(seen) == 18 and set(seen.values()) == {1}
    # rerunning every layout changes nothing
    before = {p.name: p.read_bytes() for p in (mixed / "webdataset").glob("*.tar")}
    cli(*sweep_args(patches, mixed), "--shard", "1/3")
    cli(*sweep_args(patches, mixed))
    assert {p.name: p.read_bytes() for p in (mixed / "webdataset").glob("*.tar")} == before


def test_a_small_sweep_has_shards_for_every_worker(tmp_path):
    """18 samples: the default cuts them into more tars than DataLoader workers (webdataset refuses fewer shards than workers)."""
    patches = bank(tmp_path / "b.syx")
    out = tmp_path / "s"
    cli(*sweep_args(patches, out))
    assert len(list((out / "webdataset").glob("*.tar"))) >= 4
    seen = read_keys(out, num_workers=2)
    assert len(seen) == 18 and set(seen.values()) == {1}


def test_shard_samples_and_bytes_options(tmp_path):
    patches = bank(tmp_path / "b.syx")
    out = tmp_path / "n"
    cli(*sweep_args(patches, out), "--shard-samples", "5")
    tars = sorted((out / "webdataset").glob("*.tar"))
    assert len(tars) == 4  # 5 + 5 + 5 + 3
    # a rerun with another size rewrites the tars and leaves no stale one behind
    cli(*sweep_args(patches, out), "--shard-samples", "9")
    assert len(list((out / "webdataset").glob("*.tar"))) == 2
    assert set(read_keys(out).values()) == {1}
    by_bytes = tmp_path / "b"
    cli(*sweep_args(patches, by_bytes), "--shard-bytes", "20K")
    tars = sorted((by_bytes / "webdataset").glob("*.tar"))
    assert len(tars) > 1 and all(p.stat().st_size <= 20 * 1024 for p in tars)
    seen = read_keys(by_bytes)
    assert len(seen) == 18 and set(seen.values()) == {1}


def test_plan_shards_and_sizes():
    assert plan_shards([10] * 18) == [(i, min(i + 2, 18)) for i in range(0, 18, 2)]
    assert plan_shards([10] * 20000) == [(i, i + 1000) for i in range(0, 20000, 1000)]
    assert plan_shards([1000] * 10, shard_samples=100, shard_bytes=3100) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert plan_shards([5000, 10], shard_bytes=100) == [(0, 1), (1, 2)]  # one oversized sample: its own tar
    assert plan_shards([]) == []
    assert parse_size("256M") == 256 * 2 ** 20 and parse_size("1GB") == 10 ** 9 and parse_size(4096) == 4096
    with pytest.raises(ValueError):
        parse_size("12 parsecs")
    with pytest.raises(ValueError):
        plan_shards([1], shard_samples=0)


def test_tar_json_is_the_metadata_row(tmp_path):
    patches = bank(tmp_path / "b.syx")
    out = tmp_path / "s"
    cli(*sweep_args(patches, out))
    rows = {json.loads(r)["note_str"]: json.loads(r) for r in (out / "metadata.jsonl").read_text().splitlines()}
    ds = wds.WebDataset(sorted(str(p) for p in (out / "webdataset").glob("*.tar")), shardshuffle=False) \
        .decode().to_tuple("__key__", "json")
    for key, meta in ds:
        assert meta == rows[key]
