"""Writers: VMEM banks, VCED single voices, packed collections; atomic and never overwriting inputs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dx7live.patch.reader import load
from dx7live.patch.sysex import checksum
from dx7live.patch.voice import INIT_VOICE_VCED, VCED_MAX, Voice
from dx7live.patch.writers import save_bank, save_collection, save_voice


def voices(n: int, seed: int = 0) -> list[Voice]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        row = (rng.integers(0, 256, 155) % (VCED_MAX.astype(int) + 1)).astype(np.uint8)
        row[145:155] = np.frombuffer(f"VOICE {i:4d}".encode(), np.uint8)
        out.append(Voice.from_vced(row.tobytes()))
    return out


def test_bank_write_read_is_exact(tmp_path):
    vs = voices(32)
    (path,) = save_bank(vs, tmp_path / "b.syx")
    data = path.read_bytes()
    assert len(data) == 4104 and data[:6] == bytes([0xF0, 0x43, 0x00, 0x09, 0x20, 0x00]) and data[-1] == 0xF7
    assert data[4102] == checksum(data[6:4102])
    bank = load(path)
    assert list(bank) == vs and bank.warnings == []
    assert bank.sources[5].position == 6 and bank.sources[5].format == "vmem"
    (again,) = save_bank(bank, tmp_path / "c.syx")
    assert again.read_bytes() == data        # byte-exact both ways


def test_short_bank_is_padded_with_init_voice(tmp_path):
    (path,) = save_bank(voices(3), tmp_path / "short.syx")
    bank = load(path)
    assert len(bank) == 32
    assert bank[3].to_vced() == INIT_VOICE_VCED and bank.names[31] == "INIT VOICE"
    assert bank[2].name == "VOICE    2"


def test_more_than_32_voices_refused_or_split(tmp_path):
    vs = voices(70, seed=3)
    with pytest.raises(ValueError, match="split=True"):
        save_bank(vs, tmp_path / "big.syx")
    assert not (tmp_path / "big.syx").exists()
    paths = save_bank(vs, tmp_path / "big.syx", split=True)
    assert [p.name for p in paths] == ["big-01.syx", "big-02.syx", "big-03.syx"]
    back = [v for p in paths for v in load(p)]
    assert back[:70] == vs and all(v.name == "INIT VOICE" for v in back[70:])


def test_existing_files_and_inputs_are_protected(tmp_path):
    target = tmp_path / "x.syx"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_bank(voices(1), target)
    assert target.read_bytes() == b"precious"
    with pytest.raises(FileExistsError, match="input"):
        save_bank(voices(1), target, overwrite=True, inputs=[target])
    assert target.read_bytes() == b"precious"
    save_bank(voices(1), target, overwrite=True)
    assert len(target.read_bytes()) == 4104
    assert [p.name for p in tmp_path.iterdir()] == ["x.syx"]   # no temp files left behind


def test_save_voice_vced(tmp_path):
    v = voices(1, seed=5)[0]
    path = save_voice(v, tmp_path / "v.syx", channel=4)
    data = path.read_bytes()
    assert len(data) == 163 and data[2] == 0x04 and data[3:6] == bytes([0, 1, 0x1B])
    assert data[161] == checksum(data[6:161])
    bank = load(path)
    assert len(bank) == 1 and bank[0] == v and bank.files[0].format == "vced"


def test_collection_is_headerless_packed(tmp_path):
    vs = voices(45, seed=7)
    path = save_collection(vs, tmp_path / "c.bin")
    data = path.read_bytes()
    assert len(data) == 45 * 128
    assert data[:128] == vs[0].to_packed()
    bank = load(path)
    assert list(bank) == vs and bank.files[0].format == "raw-packed"


def test_writers_accept_arrays_and_reject_nonsense(tmp_path):
    arr = np.stack([np.frombuffer(v.to_vced(), np.uint8) for v in voices(2)])
    save_collection(arr, tmp_path / "a.bin")
    assert len((tmp_path / "a.bin").read_bytes()) == 256
    with pytest.raises(ValueError, match="no voices"):
        save_bank([], tmp_path / "e.syx")
    with pytest.raises(ValueError, match="not a Voice"):
        save_bank(["piano"], tmp_path / "e.syx")
    with pytest.raises(ValueError):
        save_voice("piano", tmp_path / "e.syx")


@given(st.integers(1, 100), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_split_banks_round_trip(tmp_path, n, seed):
    vs = voices(n, seed=seed)
    out = tmp_path / f"r{n}-{seed}"
    paths = save_bank(vs, out / "bank.syx", split=True)
    assert len(paths) == -(-n // 32)
    back = [v for p in paths for v in load(p, strict=True)]
    assert back[:n] == vs and all(v.to_vced() == INIT_VOICE_VCED for v in back[n:])
    coll = save_collection(vs, out / "c.bin")
    assert list(load(coll, strict=True)) == vs
