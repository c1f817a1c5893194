"""The packer and the `pack` / `info` commands on synthetic folders."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from dx7live.cli import main
from dx7live.patch.packer import pack, unique_rows
from dx7live.patch.reader import load
from dx7live.patch.sysex import vmem_message
from dx7live.patch.voice import VCED_MAX, pack_vced


def bank_vced(seed: int, n: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vced = (rng.integers(0, 256, (n, 155)) % (VCED_MAX.astype(int) + 1)).astype(np.uint8)
    for i in range(n):
        vced[i, 145:155] = np.frombuffer(f"S{seed:02d} V{i:02d}".ljust(10).encode(), np.uint8)
    return vced


def write_tree(root, order):
    """Two banks sharing 16 voices, a renamed copy of one voice, a junk file, an empty voice."""
    a, b = bank_vced(1), bank_vced(2)
    b[:16] = a[16:]                       # 16 duplicates
    b[20, :145] = a[0, :145]              # same sound as a[0], other name
    b[31] = 0                             # an all-zero padding voice
    files = {"x/a.syx": vmem_message(pack_vced(a).tobytes()),
             "y/b.syx": vmem_message(pack_vced(b).tobytes()),
             "y/readme.txt": b"just text"}
    for name in order:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
    return a, b


def test_unique_rows_keeps_first_occurrence_order():
    rows = np.array([[3], [1], [3], [2], [1]], np.uint8)
    first, inverse, counts = unique_rows(rows)
    assert first.tolist() == [0, 1, 3]
    assert inverse.tolist() == [0, 1, 0, 2, 1]
    assert counts.tolist() == [2, 2, 1]


def test_pack_deduplicates_and_records_provenance(tmp_path):
    a, b = write_tree(tmp_path / "in", ["x/a.syx", "y/b.syx", "y/readme.txt"])
    r = pack(tmp_path / "in", tmp_path / "out.bin")
    assert r.files_read == 3 and len(r.rejected) == 1 and "readme.txt" in r.rejected[0][0]
    assert r.voice_records == 64 and r.empty_skipped == 1
    assert r.unique == r.unique_with_name == 47 and r.unique_without_name == 46
    bank = load(tmp_path / "out.bin")
    expected = np.concatenate([a, b[16:31]])
    assert np.array_equal(bank.vced, expected)
    with open(tmp_path / "out.manifest.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 47
    assert rows[16]["name"] == "S01 V16" and rows[16]["copies"] == "2" and rows[16]["file"].endswith("a.syx")
    assert rows[40]["file"].endswith("b.syx") and rows[40]["position"] == "25" and rows[0]["copies"] == "1"
    text = r.summary()
    assert "rejected" in text and "unique voices: 47" in text and "46 (ignoring the name)" in text


def test_pack_order_does_not_depend_on_creation_order(tmp_path):
    write_tree(tmp_path / "one", ["x/a.syx", "y/b.syx", "y/readme.txt"])
    write_tree(tmp_path / "two", ["y/readme.txt", "y/b.syx", "x/a.syx"])
    pack(tmp_path / "one", tmp_path / "1.bin")
    pack(tmp_path / "two", tmp_path / "2.bin")
    assert (tmp_path / "1.bin").read_bytes() == (tmp_path / "2.bin").read_bytes()


def test_pack_ignore_name_and_banks(tmp_path):
    write_tree(tmp_path / "in", ["x/a.syx", "y/b.syx"])
    r = pack(tmp_path / "in", tmp_path / "out.syx", ignore_name=True, manifest=tmp_path / "m.jsonl")
    assert r.unique == 46
    assert [p.name for p in r.outputs] == ["out-01.syx", "out-02.syx"]
    banks = [load(p) for p in r.outputs]
    assert len(banks[0]) == 32 and banks[1].names[13] == "S02 V30" and banks[1].names[14] == "INIT VOICE"
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert lines[33]["output"] == "out-02.syx #2" and lines[0]["copies"] == 2   # a[0] and its renamed copy


def test_pack_refuses_to_overwrite(tmp_path):
    write_tree(tmp_path / "in", ["x/a.syx"])
    victim = tmp_path / "in" / "x" / "a.syx"
    before = victim.read_bytes()
    with pytest.raises(FileExistsError):
        pack(tmp_path / "in", victim)
    with pytest.raises(FileExistsError, match="input"):
        pack(tmp_path / "in", victim, overwrite=True)
    assert victim.read_bytes() == before
    pack(tmp_path / "in", tmp_path / "o.bin")
    with pytest.raises(FileExistsError):
        pack(tmp_path / "in", tmp_path / "o.bin")


def test_pack_with_nothing_to_pack(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"nothing here")
    with pytest.raises(ValueError, match="no voices"):
        pack(tmp_path, tmp_path / "o.bin")
    assert not (tmp_path / "o.bin").exists()


def test_pack_command(tmp_path, capsys):
    write_tree(tmp_path / "in", ["x/a.syx", "y/b.syx", "y/readme.txt"])
    assert main(["pack", str(tmp_path / "in"), "-o", str(tmp_path / "o.bin")]) == 0
    out = capsys.readouterr().out
    assert "unique voices: 47" in out and "readme.txt" in out and "vmem" in out
    assert main(["pack", str(tmp_path / "in"), "-o", str(tmp_path / "o.bin")]) == 2     # exists
    assert main(["pack", str(tmp_path / "in"), "-o", str(tmp_path / "p.bin"), "--strict", "-q"]) == 1


def test_info_command(tmp_path, capsys):
    write_tree(tmp_path, ["x/a.syx", "y/readme.txt"])
    assert main(["info", str(tmp_path / "x" / "a.syx")]) == 0
    out = capsys.readouterr().out
    assert "32 voices (vmem)" in out and "S01 V05" in out and "alg" in out
    assert main(["info", "--json", str(tmp_path / "x" / "a.syx")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_voices"] == 32 and info["voices"][5]["name"] == "S01 V05" and info["warnings"] == []
    assert 1 <= info["voices"][0]["algorithm"] <= 32
    assert main(["info", str(tmp_path / "y" / "readme.txt")]) == 2
    assert "readme.txt" in capsys.readouterr().err
    data = bytearray((tmp_path / "x" / "a.syx").read_bytes())
    data[4102] ^= 1
    (tmp_path / "bad.syx").write_bytes(bytes(data))
    assert main(["info", "--strict", str(tmp_path / "bad.syx")]) == 1
    assert "checksum mismatch" in capsys.readouterr().out


def test_pack_command_progress_bar(tmp_path, capsys):
    write_tree(tmp_path / "in", ["x/a.syx", "y/b.syx"])
    assert main(["pack", str(tmp_path / "in"), "-o", str(tmp_path / "o.bin"), "--progress", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "reading" in captured.err and "/2 " in captured.err
