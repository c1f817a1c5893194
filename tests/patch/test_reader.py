"""The reader on synthetic files: every format, every kind of damage, and random bytes."""
from __future__ import annotations

import io

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dx7live
from dx7live.patch.reader import Bank, PatchError, list_files, load, load_many
from dx7live.patch.sysex import checksum, vced_message, vmem_message
from dx7live.patch.voice import VCED_MAX, Voice, pack_vced


def bank_vced(seed: int = 0, n: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vced = (rng.integers(0, 256, (n, 155)) % (VCED_MAX.astype(int) + 1)).astype(np.uint8)
    for i in range(n):
        vced[i, 145:155] = np.frombuffer(f"S{seed:02d} V{i:02d}".ljust(10).encode(), np.uint8)
    return vced


def vmem(seed: int = 0, channel: int = 0) -> bytes:
    return vmem_message(pack_vced(bank_vced(seed)).tobytes(), channel)


def test_public_names_exist():
    assert dx7live.load is load and dx7live.Bank is Bank and dx7live.PatchError is PatchError
    assert issubclass(PatchError, ValueError)
    for name in ("Voice", "Operator", "save_bank", "save_voice", "save_collection"):
        assert getattr(dx7live, name) is not None


def test_plain_vmem_from_bytes():
    bank = load(vmem(1))
    assert len(bank) == 32 and bank.warnings == []
    assert np.array_equal(bank.vced, bank_vced(1))
    assert bank.names[3] == "S01 V03" and bank[3].name == "S01 V03"
    assert bank.sources[0].file == "<bytes>" and bank.sources[0].offset == 6
    assert bank.files[0].format == "vmem"


def test_any_channel_and_byte_count_10_00():
    data = bytearray(vmem(2, channel=9))
    data[4] = 0x10
    bank = load(bytes(data))
    assert len(bank) == 32 and np.array_equal(bank.vced, bank_vced(2))
    assert any("10 00" in w for w in bank.warnings)
    load(bytes(data), strict=True)          # a note, not a repair: strict accepts it


def test_several_dumps_with_other_messages_between():
    param_change = bytes([0xF0, 0x43, 0x10, 0x01, 0x06, 0x03, 0xF7])
    supplement = bytes([0xF0, 0x43, 0x00, 0x06, 0x08, 0x60]) + bytes(1120) + bytes([0x00, 0xF7])
    one = Voice.from_vced(bank_vced(9)[0].tobytes())
    data = param_change + supplement + vmem(3) + b"\x00\x00" + vmem(4) + vced_message(one.to_vced(), 3)
    bank = load(data)
    assert len(bank) == 65
    assert np.array_equal(bank.vced[:32], bank_vced(3)) and np.array_equal(bank.vced[32:64], bank_vced(4))
    assert bank[64] == one
    assert bank.files[0].format == "mixed-dumps"
    assert [s.position for s in bank.sources[30:34]] == [31, 32, 33, 34]
    assert {s.format for s in bank.sources} == {"vmem", "vced"}
    assert any("ignored" in w and "parameter change" in w for w in bank.warnings)


def test_several_single_voice_dumps():
    vs = [Voice.from_vced(r.tobytes()) for r in bank_vced(5, n=4)]
    bank = load(b"".join(vced_message(v.to_vced(), ch) for ch, v in enumerate(vs)))
    assert list(bank) == vs and bank.files[0].format == "multi-vced"


def test_bad_checksum_loads_with_warning_and_strict_raises():
    data = bytearray(vmem(6))
    data[4102] = (data[4102] + 1) & 0x7F
    bank = load(bytes(data))
    assert len(bank) == 32 and np.array_equal(bank.vced, bank_vced(6))
    assert any("checksum mismatch" in w for w in bank.warnings)
    with pytest.raises(PatchError, match="checksum"):
        load(bytes(data), strict=True)


def test_checksum_with_high_bit_set():
    data = bytearray(vmem(7))
    data[4102] |= 0x80
    bank = load(bytes(data))
    assert len(bank) == 32
    assert any("high bit set (low 7 bits correct)" in w for w in bank.warnings)


def test_missing_checksum_and_truncation():
    full = vmem(8)
    no_cs = full[:4102] + b"\xF7"
    bank = load(no_cs)
    assert len(bank) == 32 and any("checksum byte missing" in w for w in bank.warnings)
    cut = full[:6 + 128 * 5 + 50]
    bank = load(cut)
    assert len(bank) == 5 and np.array_equal(bank.vced, bank_vced(8)[:5])
    assert any("27 of 32 voices missing" in w and "partial voice 6 dropped" in w for w in bank.warnings)
    # a dump cut short and followed by another dump: both found
    bank = load(full[:6 + 128 * 3] + b"\xF7" + vmem(9))
    assert len(bank) == 35 and np.array_equal(bank.vced[3:], bank_vced(9))


def test_out_of_range_fields_are_clamped_with_a_named_warning():
    vced = bank_vced(10)
    vced[6, 145:155] = np.frombuffer(b"BRASS 1   ", np.uint8)
    packed = pack_vced(vced)
    packed[6, 51 + 14] = 127              # OP3 output level (OP3 block starts at byte 51)
    bank = load(vmem_message(packed.tobytes()))
    assert bank[6].op[3].output_level == 99
    assert "<bytes>: voice 7 'BRASS 1': output level of OP3 was 127, clamped to 99" in bank.warnings
    with pytest.raises(PatchError, match="voice 7 'BRASS 1'"):
        load(vmem_message(packed.tobytes()), strict=True)


def test_data_bytes_above_127_are_masked():
    data = bytearray(vmem(11))
    data[6 + 128 * 2 + 14] |= 0x80        # voice 3, OP6 output level byte
    bank = load(bytes(data))
    assert bank.vced[2, 16] == bank_vced(11)[2, 16]
    assert any("voice 3" in w and "above 127" in w for w in bank.warnings)


def test_headerless_packed_banks_and_collections():
    vced = bank_vced(12, n=71)
    raw = pack_vced(vced).tobytes()
    bank = load(raw[:4096])
    assert len(bank) == 32 and bank.files[0].format == "raw-bank"
    bank = load(raw)
    assert len(bank) == 71 and bank.files[0].format == "raw-packed" and np.array_equal(bank.vced, vced)
    assert bank.sources[70].offset == 70 * 128


def test_headerless_unpacked_155():
    vced = bank_vced(13)
    bank = load(vced.tobytes())
    assert len(bank) == 32 and bank.files[0].format == "raw-vced" and np.array_equal(bank.vced, vced)


def test_standard_midi_file():
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("program_change", program=3))
    track.append(mido.Message("sysex", data=vmem(14)[1:-1], time=10))
    track.append(mido.Message("sysex", data=[0x43, 0x10, 0x01, 0x06, 0x03], time=10))
    buf = io.BytesIO()
    mid.save(file=buf)
    bank = load(buf.getvalue())
    assert len(bank) == 32 and bank.files[0].format == "smf" and np.array_equal(bank.vced, bank_vced(14))
    empty = mido.MidiFile()
    empty.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60)]))
    buf = io.BytesIO()
    empty.save(file=buf)
    with pytest.raises(PatchError, match="MIDI file without DX7 voice dumps"):
        load(buf.getvalue())


def test_other_synths_and_non_voice_data_are_rejected():
    tx81z = bytes([0xF0, 0x43, 0x00, 0x04, 0x20, 0x00]) + bytes(4096) + bytes([0, 0xF7])
    with pytest.raises(PatchError, match="4-op voice bank"):
        load(tx81z)
    params = bytes([0xF0, 0x43, 0x10, 0x01, 0x06, 0x03, 0xF7]) * 5
    with pytest.raises(PatchError, match="parameter change messages only"):
        load(params)
    roland = bytes([0xF0, 0x41, 0x10, 0x16, 0x12]) + bytes(40) + b"\xF7"
    with pytest.raises(PatchError, match="Roland"):
        load(roland)
    rng = np.random.default_rng(0)
    with pytest.raises(PatchError, match="does not look like DX7 voices"):
        load(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(PatchError, match="unrecognised"):
        load(b"hello world, this is not a patch")
    with pytest.raises(PatchError, match="empty"):
        load(b"")


def test_rejection_names_the_file(tmp_path):
    p = tmp_path / "junk.syx"
    p.write_bytes(b"\x01\x02\x03")
    with pytest.raises(PatchError) as err:
        load(p)
    assert str(p) in str(err.value) and err.value.reason
    with pytest.raises(PatchError, match="directory"):
        load(tmp_path)
    with pytest.raises(PatchError, match="cannot read"):
        load(tmp_path / "missing.syx")


def test_load_many_is_order_independent_and_keeps_rejections(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "one.syx").write_bytes(vmem(20))
    (tmp_path / "a" / "two.syx").write_bytes(vmem(21))
    (tmp_path / "a" / "junk.txt").write_bytes(b"not a patch")
    bank = load_many(tmp_path)
    assert len(bank) == 64
    assert np.array_equal(bank.vced[:32], bank_vced(21))       # a/ sorts before b/
    assert [f.rejected for f in bank.files] == [True, False, False]
    assert len(bank.rejected) == 1 and "junk.txt" in bank.rejected[0].path
    assert bank.sources[40].file.endswith("one.syx") and bank.sources[40].position == 9
    assert [p.name for p in list_files([tmp_path / "b", tmp_path / "a"])] == ["one.syx", "junk.txt", "two.syx"]
    with pytest.raises(PatchError, match="junk"):
        load_many(tmp_path, strict=True)


def test_bank_is_a_read_only_sequence():
    bank = load(vmem(22))
    v = bank[0]
    v.op[1].output_level = 0 if v.op[1].output_level else 1
    assert bank[0] != v                                      # editing a copy leaves the bank alone
    sub = bank[4:8]
    assert isinstance(sub, Bank) and len(sub) == 4 and sub.sources[0].position == 5
    assert bank[-1] == list(bank)[31]
    with pytest.raises(IndexError):
        bank[32]
    assert "32 voices" in repr(bank)


@given(st.binary(max_size=6000))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_bytes_never_crash(data):
    try:
        bank = load(data)
    except PatchError as exc:
        assert exc.reason
    else:
        assert len(bank) > 0 and bank.vced.shape == (len(bank), 155)
        assert (bank.vced <= np.r_[VCED_MAX[:145], [127] * 10]).all()


_VALID = vmem(30) + vced_message(bank_vced(31)[0].tobytes())


@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.sampled_from([0x00, 0x7F, 0x80, 0xF0, 0xF7, 0xFF, 0x43])),
                max_size=20),
       st.integers(0, len(_VALID)), st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_dumps_never_crash(edits, cut, strict):
    data = bytearray(_VALID)
    for pos, val in edits:
        data[pos] = val
    data = bytes(data[:cut])
    try:
        bank = load(data, strict=strict)
    except PatchError as exc:
        assert exc.reason
    else:
        assert len(bank) > 0
        if strict:
            assert not any("clamped" in w or "checksum mismatch" in w for w in bank.warnings)


def test_random_mid_files_never_crash():
    rng = np.random.default_rng(5)
    for _ in range(200):
        data = b"MThd" + rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8).tobytes()
        try:
            load(data)
        except PatchError:
            pass


def test_damaged_midi_file_is_searched_raw():
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.Message("sysex", data=vmem(15)[1:-1])]))
    buf = io.BytesIO()
    mid.save(file=buf)
    data = bytearray(buf.getvalue())
    data[18:22] = b"\xFF\xFF\xFF\xFF"      # the track chunk claims an absurd length
    bank = load(bytes(data))
    assert len(bank) == 32 and np.array_equal(bank.vced, bank_vced(15))
    assert any("damaged MIDI file" in w for w in bank.warnings)


def test_headerless_bank_followed_by_other_data():
    bank_bytes = pack_vced(bank_vced(16)).tobytes()
    rng = np.random.default_rng(3)
    drt = bank_bytes + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()   # 8192 bytes, junk half
    bank = load(drt)
    assert len(bank) == 32 and np.array_equal(bank.vced, bank_vced(16))
    assert any("read the first 4096 bytes as a bank, ignored the other 4096" in w for w in bank.warnings)
    dos = bank_bytes + b"\x1a"                                                 # DOS end-of-file mark
    bank = load(dos)
    assert len(bank) == 32 and any("ignored the last 1 bytes" in w for w in bank.warnings)
    xsyn = b"".join(bank_bytes[i * 128:(i + 1) * 128] + rng.integers(0, 256, 128, dtype=np.uint8).tobytes()
                    for i in range(32))                                      # a voice every 256 bytes
    bank = load(xsyn)
    assert len(bank) == 32 and np.array_equal(bank.vced, bank_vced(16))
    assert bank.sources[5].offset == 5 * 256 and any("Transform XSyn" in w for w in bank.warnings)


def test_bad_checksum_bank_of_mostly_empty_voices_is_kept():
    vced = bank_vced(17)
    vced[3:] = 0                                    # 29 all-zero padding voices
    data = bytearray(vmem_message(pack_vced(vced).tobytes()))
    data[4102] ^= 0x01
    bank = load(bytes(data))
    assert len(bank) == 32 and np.array_equal(bank.vced, vced)


def test_bad_checksum_dump_that_is_not_a_voice_is_dropped():
    rng = np.random.default_rng(8)
    junk = rng.integers(0, 128, 155, dtype=np.uint8).tobytes()
    msg = bytearray(vced_message(junk))
    msg[161] ^= 0x01
    good = vced_message(bank_vced(18)[0].tobytes())
    bank = load(bytes(msg) + good)
    assert len(bank) == 1 and bank.names == ["S18 V00"]
    assert any("dropped, its data does not look like DX7 voice data" in w for w in bank.warnings)


def test_huge_files_of_other_messages_are_handled_quickly():
    """Millions of tiny messages: described from the first ones, dumps after them still found."""
    noise = b"\xF0\x41\x10\xF7" * 1_000_000
    with pytest.raises(PatchError, match="Roland sysex messages \\(and more, not counted\\)"):
        load(noise)
    bank = load(noise + vmem(23))
    assert len(bank) == 32 and np.array_equal(bank.vced, bank_vced(23))


def test_stray_bytes_after_f0_recovered_only_with_a_good_checksum():
    msg = vced_message(bank_vced(24)[0].tobytes())
    shifted = msg[:1] + b"\x81\x22" + msg[1:]
    bank = load(shifted + vmem(25))
    assert len(bank) == 33 and bank.names[0] == "S24 V00"
    assert any("2 stray bytes" in w for w in bank.warnings)
    damaged = bytearray(shifted)
    damaged[20] ^= 0x01                      # now the checksum fails: not trusted
    with pytest.raises(PatchError, match="manufacturer byte 0x81"):
        load(bytes(damaged))


def test_bank_pickles_for_worker_processes():
    import pickle

    bank = load(vmem(26))
    again = pickle.loads(pickle.dumps(bank))
    assert np.array_equal(again.vced, bank.vced) and again.names == bank.names
    assert again.sources[7] == bank.sources[7] and again[7] == bank[7]
