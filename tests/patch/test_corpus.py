"""The reader on the real-world corpus: every file loads or is rejected with a reason, and the 26
edge cases listed in the corpus README each behave as they should."""
from __future__ import annotations

import re

import numpy as np
import pytest

from dx7live.patch.reader import PatchError, list_files, load
from dx7live.patch.voice import unpack_packed

MV = "murdinc+MVRD_TX7_PATCHER/sysex/DX7_AllTheWeb"
BMRS = f"{MV}/Bridge Music Recording Studio"


@pytest.fixture(scope="module")
def files(corpus_dir):
    return corpus_dir / "files"


def get(files, rel):
    path = files / rel
    assert path.is_file(), f"corpus file missing: {rel}"
    return path


def factory(corpus_dir, name):
    raw = (corpus_dir / "factory" / f"{name}.syx").read_bytes()
    return unpack_packed(np.frombuffer(raw[6:4102], np.uint8).reshape(32, 128))


def problems(bank):
    return [w.split(": ", 1)[1] for w in bank.warnings]


def test_every_corpus_file_loads_or_is_rejected_with_a_reason(files):
    loaded = rejected = voices = 0
    for path in list_files(files):
        try:
            bank = load(path)
        except PatchError as exc:
            assert exc.reason and str(path) in str(exc)
            rejected += 1
        else:
            assert len(bank) > 0 and bank.vced.shape == (len(bank), 155)
            loaded += 1
            voices += len(bank)
    assert loaded + rejected == 6573
    # the README's scan: 82 other-synth files (17 of them TX802 voices with stray bytes, which
    # the reader recovers) + about 20 containers/junk are not DX7 voice data
    assert 65 <= rejected <= 102
    assert 250_000 < voices < 280_000


def test_01_clean_factory_bank(files, corpus_dir):
    bank = load(get(files, "Ahlzen+SysexSharp/SysexLibTests/data/DX7_ROM1A.SYX"), strict=True)
    assert len(bank) == 32 and bank.warnings == [] and bank.names[0] == "BRASS   1"
    assert np.array_equal(bank.vced, factory(corpus_dir, "rom1a"))


def test_02_byte_count_10_00(files):
    bank = load(get(files, "jphaenlin+DX7-patches/DX7-patches-1.zip.unzipped/DX-init.syx"), strict=True)
    assert len(bank) == 32
    assert problems(bank) == ["bulk dump: byte count written as 10 00 instead of 20 00"]


def test_03_wrong_checksum(files):
    path = get(files, "probonopd+MiniDexed/userBank.syx")
    bank = load(path)
    assert len(bank) == 32 and any(p.startswith("bulk dump: checksum mismatch") for p in problems(bank))
    with pytest.raises(PatchError, match="checksum mismatch"):
        load(path, strict=True)


def test_04_checksum_byte_f0_does_not_start_a_message(files):
    bank = load(get(files, f"{BMRS}/DX1/Keys.syx"))
    assert len(bank) == 32
    p = problems(bank)
    assert "bulk dump: checksum byte 0xF0 has its high bit set (low 7 bits correct)" in p
    assert not any("ignored" in x or "truncated" in x for x in p)


def test_05_checksum_byte_f7(files):
    bank = load(get(files, f"{BMRS}/Sysex/Set 31 Unsorted/DX7 SYSEX PATCHES/DX OWNER BANKS E/PIANO.SYX"))
    assert len(bank) == 32 and bank.names[0] == "PIANO 1"
    assert "bulk dump: checksum byte 0xF7 has its high bit set (low 7 bits correct)" in problems(bank)


def test_06_checksum_0x80_and_empty_voices(files):
    bank = load(get(files, "bitsondisk+patches.fm-patch-bank/public/16/164ea5e47737b441b84761ea24c0389ab5d474bd.syx"))
    assert len(bank) == 32
    assert not bank.vced[1:].any() and bank.vced[0].any()
    assert "voices 2-32 are empty (all bytes zero)" in problems(bank)
    assert any("0x80" in p for p in problems(bank))


def test_07_missing_checksum(files):
    path = get(files, f"{MV}/Dexed v1_0 (Black Winny)/Ajay/dx7ii-bank-B.syx")
    assert path.stat().st_size == 4103
    bank = load(path)
    assert len(bank) == 32 and "bulk dump: checksum byte missing" in problems(bank)


def test_08_truncated_after_4_voices(files, corpus_dir):
    bank = load(get(files, f"{MV}/Dexed v1_0 (Black Winny)/!Unsorted/dx7-patches/STOCK.SYX"))
    assert len(bank) == 4
    assert any("28 of 32 voices missing" in p for p in problems(bank))


def test_09_data_bytes_above_127(files):
    bank = load(get(files, f"{MV}/Aminet/50.syx"))
    assert len(bank) == 32
    assert problems(bank) == ["voice 22 'Glidepiano': 30 data bytes above 127 (high bit dropped)"]


def test_10_single_voice_on_channel_5(files):
    path = get(files, f"{MV}/Charles Copp/r2d2.syx")
    assert path.read_bytes()[2] == 0x04          # channel 5 as displayed
    bank = load(path, strict=True)
    assert len(bank) == 1 and bank.files[0].format == "vced" and bank.names == ["MR.R2D2_"]


def test_11_illegal_manufacturer_byte(files):
    """F0 81 22 43 00 00 01 1B ...: two stray bytes before an intact single-voice dump. The
    checksum proves the voice intact, so it is recovered and the stray bytes reported."""
    bank = load(get(files, f"{BMRS}/Sysex/Set 13 TX802/TX802a/12string.syx"))
    assert len(bank) == 1 and bank.files[0].format == "vced"
    assert problems(bank) == ["single-voice dump: 2 stray bytes between F0 and the Yamaha header (81 22), skipped"]
    with pytest.raises(PatchError, match="stray bytes"):
        load(get(files, f"{BMRS}/Sysex/Set 13 TX802/TX802a/12string.syx"), strict=True)


def test_12_headerless_bank(files):
    bank = load(get(files, f"{BMRS}/Sysex/Set 15 TX816/816i.SYX"), strict=True)
    assert len(bank) == 32 and bank.files[0].format == "raw-bank"


def test_13_headerless_bank_with_high_bytes(files):
    bank = load(get(files, f"{BMRS}/Sysex/Set 16 Banks/Bank0043.syx"))
    assert len(bank) == 32 and bank.files[0].format == "raw-bank"
    assert any("above 127" in p for p in problems(bank))


def test_14_4096_bytes_that_are_not_voices(files):
    with pytest.raises(PatchError, match="does not look like DX7 voices"):
        load(get(files, f"{BMRS}/Sysex/Set 16 Banks/BBANK4.SYX"))


def high_bytes_reported(bank):
    return sum(int(m.group(1)) for p in problems(bank) for m in [re.search(r": (\d+) data bytes? above 127", p)] if m)


def test_15_learnfm_compact_bin(files):
    bank = load(get(files, "bwhitman+learnfm/compact.bin"))
    assert len(bank) == 31_380 and bank.files[0].format == "raw-packed"
    assert high_bytes_reported(bank) == 884


def test_16_headerless_unpacked_voices(files):
    bank = load(get(files, f"{BMRS}/Sysex/Set 1 Factory/TX802/TX802BankA1.SYX"), strict=True)
    assert len(bank) == 32 and bank.files[0].format == "raw-vced"
    assert bank.names[:2] == ["MellowHorn", "SilvaBrass"]


def test_17_71_packed_voices(files):
    bank = load(get(files, "smbolton+hexter/extra/default_patches.dx7"))
    assert len(bank) == 71 and bank.files[0].format == "raw-packed"


def test_18_32_banks_back_to_back(files):
    bank = load(get(files, "visualizersdotnl+Yamaha-DX7-patch-library/PA-Decoder/PA-Decoder.syx"))
    assert len(bank) == 1024 and bank.files[0].format == "multi-vmem"
    assert bank.sources[1023].position == 1024


def test_19_dx7ii_bank_after_other_messages(files):
    bank = load(get(files, "bladeSk+DX7II-Librarian/public/carts/DX7II factory bank 1 1-32.syx"))
    assert len(bank) == 32
    assert bank.sources[0].offset == 17_300 + 6
    assert any(p.startswith("ignored") and "supplement" in p for p in problems(bank))


def test_20_tx81z_bank_is_rejected(files):
    path = get(files, "Ahlzen+SysexSharp/SysexLibTests/data/TX81Z01A.SYX")
    assert path.stat().st_size == 4104
    with pytest.raises(PatchError, match="4-op voice bank"):
        load(path)


def test_21_standard_midi_file(files, corpus_dir):
    bank = load(get(files, f"{MV}/Dexed v1_0 (Black Winny)/Original Yamaha/DX7 ROM1/ROM1A.mid"))
    assert bank.files[0].format == "smf"
    assert np.array_equal(bank.vced, factory(corpus_dir, "rom1a"))


def test_22_korg_file_with_program_change_first(files):
    with pytest.raises(PatchError, match="Korg"):
        load(get(files, "Ahlzen+SysexSharp/SysexLibTests/data/Korg DW-8000 Collection.syx"))


def test_23_parameter_changes_only(files):
    with pytest.raises(PatchError, match="parameter change messages only"):
        load(get(files, f"{BMRS}/Sysex/Set 31 Unsorted/DX7 SYSEX PATCHES/DX OWNER BANKS D/MOD1.SYX"))


def test_24_fine_frequency_above_99(files):
    bank = load(get(files, "asb2m10+dexed/Resources/startup.syx"))
    assert len(bank) == 32
    clamped = [p for p in problems(bank) if "frequency fine" in p]
    assert clamped and all("clamped to 99" in p for p in clamped)
    assert int(bank.vced[:, [19 + 21 * k for k in range(6)]].max()) == 99


def test_25_dx7pytorch_collection(files):
    bank = load(get(files, "fcaspe+dx7pytorch/dataset/collection.bin"))
    assert len(bank) == 29_830 and bank.files[0].format == "raw-packed"
    assert high_bytes_reported(bank) == 908
    assert bank.sources[29_829].offset == 29_829 * 128


def test_26_macos_metadata_file(files):
    with pytest.raises(PatchError, match="AppleDouble"):
        load(get(files, "visualizersdotnl+Yamaha-DX7-patch-library/Yamaha-DX7-Drum-Sounds-Coffeeshopped/"
                        "__MACOSX/._DX7-Cfshpd-Drum-Voices.syx"))


@pytest.mark.parametrize("name", ["rom1a", "rom1b", "rom2a", "rom2b", "rom3a", "rom3b", "rom4a", "rom4b"])
def test_factory_banks_rewrite_exactly_or_report_repairs(corpus_dir, tmp_path, name):
    """Banks with no out-of-range value re-pack byte-exactly; ROM3A/3B/4A hold stray values
    (e.g. an EG level of 127) that are clamped and reported, never silently."""
    from dx7live.patch.writers import save_bank

    src = corpus_dir / "factory" / f"{name}.syx"
    bank = load(src)
    (out,) = save_bank(bank, tmp_path / f"{name}.syx")
    if bank.warnings:
        assert all("clamped" in w for w in bank.warnings)
        assert np.array_equal(load(out).vced, bank.vced)
    else:
        assert out.read_bytes() == src.read_bytes()


def test_packing_the_corpus_round_trips(files, tmp_path):
    """The packed corpus reads back bit-exactly, holds each distinct voice once, and the manifest
    points at a source file that really holds that voice."""
    import csv

    from dx7live.patch.packer import pack

    result = pack(files, tmp_path / "all.bin")
    assert result.files_read == 6573 and result.unique == result.unique_with_name
    assert result.unique_without_name < result.unique < result.voice_records
    back = load(tmp_path / "all.bin", strict=True)          # canonical data: nothing to repair
    assert len(back) == result.unique
    assert len(np.unique(back.vced, axis=0)) == len(back)
    with open(tmp_path / "all.manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(back) and sum(int(r["copies"]) for r in rows) == result.voice_records - result.empty_skipped
    for k in (0, len(rows) // 2, len(rows) - 1):
        src = load(rows[k]["file"])
        assert np.array_equal(src.vced[int(rows[k]["position"]) - 1], back.vced[k])
        assert back[k].content_hash() == rows[k]["hash"]
