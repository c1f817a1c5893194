"""The voice model: named access, INIT VOICE, packed/VCED/vector round trips, hashes."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dx7live.patch.voice import (INIT_VOICE_VCED, PARAM_NAMES, VCED_MAX, VECTOR_NAMES, Voice, clamp_vced, pack_vced,
                           unpack_packed)

valid_vced = st.lists(st.integers(0, 255), min_size=155, max_size=155).map(
    lambda xs: np.minimum(np.array(xs, np.uint8), np.r_[VCED_MAX[:145], [127] * 10]).astype(np.uint8).tobytes())


def random_valid(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 155)) % (VCED_MAX.astype(int) + 1)).astype(np.uint8)


def test_init_voice_matches_the_manual():
    v = Voice.init()
    assert v.name == "INIT VOICE"
    assert v.algorithm == 1 and v.feedback == 0
    assert v.op[1].output_level == 99
    assert all(v.op[n].output_level == 0 for n in range(2, 7))
    for o in v.op:
        assert o.eg_rates == (99, 99, 99, 99)
        assert o.eg_levels == (99, 99, 99, 0)
        assert o.breakpoint == 39 and o.coarse == 1 and o.detune == 7 and o.fine == 0
        assert o.mode == "ratio" and o.enabled
    assert v.transpose == 24
    assert v.pitch_eg_rates == (99, 99, 99, 99) and v.pitch_eg_levels == (50, 50, 50, 50)
    assert v.lfo_speed == 35 and v.lfo_wave == 0 and v.lfo_key_sync is True
    assert v.osc_key_sync is True and v.pitch_mod_sensitivity == 3
    assert v.to_vced() == INIT_VOICE_VCED and len(INIT_VOICE_VCED) == 155


def test_operators_are_numbered_as_on_the_panel():
    v = Voice.init()
    v.op[1].output_level = 42
    v.op[6].coarse = 3
    data = v.to_vced()
    assert data[21 * 5 + 16] == 42      # OP1 block is the last of the six (OP6 first, §1.5)
    assert data[0 + 18] == 3            # OP6 block is the first
    with pytest.raises(IndexError):
        v.op[0]
    with pytest.raises(IndexError):
        v.op[7]
    assert [o.number for o in v.op] == [1, 2, 3, 4, 5, 6]


def test_algorithm_is_shown_one_based_and_stored_zero_based():
    v = Voice.init()
    v.algorithm = 32
    assert v.to_vced()[134] == 31
    assert Voice.from_vced(v.to_vced()).algorithm == 32
    with pytest.raises(ValueError, match="algorithm"):
        v.algorithm = 0
    with pytest.raises(ValueError):
        v.algorithm = 33


@pytest.mark.parametrize("attr,bad", [("output_level", 100), ("detune", 15), ("left_curve", 4), ("coarse", 32),
                                      ("rate_scaling", 8), ("velocity_sensitivity", -1), ("fine", 2.5)])
def test_operator_setters_validate(attr, bad):
    v = Voice.init()
    before = v.to_vced()
    with pytest.raises(ValueError, match=attr):
        setattr(v.op[3], attr, bad)
    assert v.to_vced() == before


def test_mode_strings_and_ints():
    v = Voice.init()
    v.op[2].mode = "fixed"
    assert v.op[2].mode == "fixed" and v.to_vced()[21 * 4 + 17] == 1
    v.op[2].mode = 0
    assert v.op[2].mode == "ratio"
    with pytest.raises(ValueError):
        v.op[2].mode = "free"


def test_name_setter_and_display():
    v = Voice.init()
    v.name = "E.PIANO 1"
    assert v.name == "E.PIANO 1" and v.name_bytes == b"E.PIANO 1 "
    with pytest.raises(ValueError):
        v.name = "MUCH TOO LONG"
    with pytest.raises(ValueError):
        v.name = "caf\u00e9"
    raw = bytearray(v.to_vced())
    raw[145:155] = b"AB\x00\x01CD    "
    assert Voice.from_vced(bytes(raw)).name == "AB  CD"


def test_from_vced_156_keeps_operator_switches():
    data = INIT_VOICE_VCED + bytes([0b101010])
    v = Voice.from_vced(data)
    assert [o.enabled for o in v.op] == [True, False, True, False, True, False]
    assert v.to_vced156()[-1] == 0b101010 and v.to_vced() == INIT_VOICE_VCED
    assert Voice.from_vced(INIT_VOICE_VCED).op_enabled == 0x3F
    with pytest.raises(ValueError):
        Voice.from_vced(b"\x00" * 154)


def test_from_vced_strict_and_clamping():
    raw = bytearray(INIT_VOICE_VCED)
    raw[16] = 120                        # OP6 output level
    with pytest.raises(ValueError, match="op6_output_level"):
        Voice.from_vced(bytes(raw))
    assert Voice.from_vced(bytes(raw), strict=False).op[6].output_level == 99


def test_equality_copy_and_unhashable():
    a, b = Voice.init(), Voice.init()
    assert a == b
    b.op[4].fine = 3
    assert a != b
    c = b.copy()
    assert c == b and c is not b
    c.op[4].fine = 4
    assert b.op[4].fine == 3
    with pytest.raises(TypeError):
        hash(a)
    assert pickle.loads(pickle.dumps(b)) == b


def test_content_hash_with_and_without_name():
    a, b = Voice.init(), Voice.init()
    b.name = "OTHER"
    assert a.content_hash() != b.content_hash()
    assert a.content_hash(include_name=False) == b.content_hash(include_name=False)
    assert a.content_hash() == Voice.init().content_hash()
    b.op[1].enabled = False              # switches are not voice data
    assert b.content_hash() == Voice.from_vced(b.to_vced()).content_hash()
    assert len(a.content_hash()) == 32 and int(a.content_hash(), 16) >= 0


def test_repr_is_readable():
    r = repr(Voice.init())
    assert "INIT VOICE" in r and "algorithm=1" in r


@given(valid_vced)
@settings(max_examples=200, deadline=None)
def test_vced_packed_round_trip(data):
    v = Voice.from_vced(data)
    packed = v.to_packed()
    assert len(packed) == 128
    assert Voice.from_packed(packed) == v
    assert Voice.from_packed(packed).to_packed() == packed


@given(valid_vced)
@settings(max_examples=200, deadline=None)
def test_vector_round_trip(data):
    v = Voice.from_vced(data)
    vec = v.to_vector()
    assert vec.shape == (145,) and vec.dtype == np.float32
    assert vec.min() >= 0.0 and vec.max() <= 1.0
    w = Voice.from_vector(vec, name="")
    assert w.to_vced()[:145] == v.to_vced()[:145]


def test_vector_order_is_documented_vced_order():
    v = Voice.init()
    vec = v.to_vector()
    assert len(VECTOR_NAMES) == 145 and VECTOR_NAMES[0] == "op6_r1" and VECTOR_NAMES[134] == "algorithm"
    assert vec[PARAM_NAMES.index("op1_output_level")] == pytest.approx(1.0)
    assert vec[PARAM_NAMES.index("transpose")] == pytest.approx(24 / 48)
    with pytest.raises(ValueError):
        Voice.from_vector(np.zeros(144))
    with pytest.raises(ValueError):
        Voice.from_vector(np.full(145, np.nan))


def test_vectorised_converters_match_per_voice_methods():
    vced = random_valid(500, seed=1)
    packed = pack_vced(vced)
    assert packed.shape == (500, 128) and packed.dtype == np.uint8
    for i in range(0, 500, 37):
        assert packed[i].tobytes() == Voice.from_vced(vced[i].tobytes()).to_packed()
        assert unpack_packed(packed[i:i + 1])[0].tobytes() == Voice.from_packed(packed[i].tobytes()).to_vced()
    assert np.array_equal(unpack_packed(packed), vced)


def test_clamp_vced_reports_changes():
    vced = random_valid(4, seed=2)
    vced[1, 16] = 200
    vced[2, 150] = 0xC1                   # a name byte with the high bit set
    clamped, changed = clamp_vced(vced)
    assert clamped[1, 16] == 99 and changed[1, 16]
    assert clamped[2, 150] == 0x41 and changed[2, 150]
    assert changed.sum() == 2
    assert np.array_equal(clamped[0], vced[0])


def test_packed_fields_are_masked_like_the_firmware():
    packed = bytearray(Voice.init().to_packed())
    packed[110] = 0x7F                   # algorithm byte with unused bits set -> 31 (&31)
    packed[116] = 0x7F                   # sync 1, wave 7 -> clamped to 5, PMS 7
    packed[12] = 0x7F                    # RS 7, detune 15 -> clamped to 14
    v = Voice.from_packed(bytes(packed))
    assert v.algorithm == 32
    assert v.lfo_key_sync and v.lfo_wave == 5 and v.pitch_mod_sensitivity == 7
    assert v.op[6].rate_scaling == 7 and v.op[6].detune == 14


def test_factory_rom_round_trip(corpus_dir):
    """Valid factory banks re-pack bit-exactly (the ones with stray bits are covered in test_patchfile)."""
    raw = (corpus_dir / "factory" / "rom1a.syx").read_bytes()
    packed = np.frombuffer(raw[6:4102], np.uint8).reshape(32, 128)
    vced = unpack_packed(packed)
    assert np.array_equal(pack_vced(vced), packed)
    assert Voice.from_packed(packed[0].tobytes()).name == "BRASS   1"


def test_summary_mentions_carriers():
    v = Voice.init()                       # algorithm 1: carriers OP1 and OP3, only OP1 sounds
    assert v.summary().startswith("1 carrier,")
    v.op[3].output_level = 80
    assert v.summary().startswith("2 carriers")
    v.algorithm = 32
    for n in range(1, 7):
        v.op[n].output_level = 90
    assert v.summary().startswith("6 carriers")
    v.op[1].l3 = 0                         # a decaying carrier among sustained ones still sustains
    assert "sustained" in v.summary()


def test_constructor_refuses_invalid_data():
    raw = bytearray(INIT_VOICE_VCED)
    raw[144] = 49                        # transpose above 48
    with pytest.raises(ValueError, match="transpose"):
        Voice(bytes(raw))
    assert Voice.from_vced(bytes(raw), strict=False).transpose == 48


@given(st.binary(min_size=128, max_size=128))
@settings(max_examples=300, deadline=None)
def test_any_packed_bytes_unpack_to_a_valid_voice(packed):
    v = Voice.from_packed(packed)              # never raises: masked and clamped
    vced = np.frombuffer(v.to_vced(), np.uint8)
    assert (vced <= np.r_[VCED_MAX[:145], [127] * 10]).all()
    canonical = v.to_packed()
    assert Voice.from_packed(canonical).to_packed() == canonical   # canonical form is a fixed point


def test_package_exports_resolve():
    import dx7live
    import dx7live.offline.sweeps  # noqa: F401  (importing a module must not shadow a public name)
    import dx7live.patch.packer  # noqa: F401

    assert callable(dx7live.pack) and callable(dx7live.sweep)
    assert dx7live.Voice is Voice and dx7live.Operator.__name__ == "Operator"


def test_vced_hashes_match_content_hash():
    from dx7live.patch.voice import vced_hashes

    vced = random_valid(50, seed=9)
    full, body = vced_hashes(vced), vced_hashes(vced, include_name=False)
    for i in (0, 17, 49):
        v = Voice.from_vced(vced[i].tobytes())
        assert full[i] == v.content_hash() and body[i] == v.content_hash(include_name=False)
