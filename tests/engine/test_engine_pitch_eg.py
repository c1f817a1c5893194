"""Pitch envelope from rendered audio: level offsets, rate, release, key-on reset (DX7-FACTS §7)."""
import numpy as np
import pytest

import support.dx7_reference as ref
from support.audio_analysis import f0_zero_crossings, pitch_track
from support.engine_voices import render, set_op, set_voice, single_carrier

SR = 48000
NOTE = 81          # 880 Hz: -4 octaves is still 55 Hz, +3.97 octaves 13.8 kHz


@pytest.mark.parametrize("level", [0, 5, 10, 17, 30, 49, 50, 51, 70, 85, 90, 95, 99])
def test_pitch_eg_level_offset(level):
    # §7: PL = TABLE_PITCH_EG_LEVEL[L], level word PL << 7 added to the key pitch.
    # All four levels equal: the EG starts at L4 and never moves.
    # Tolerance 0.3 cent: PL << 7 is a multiple of 4 units, so EGS quantisation cannot move it.
    v = set_voice(single_carrier(), plevels=(level,) * 4)
    x = render(v, note=NOTE, hold=0.6)
    got = f0_zero_crossings(x[int(0.05 * SR):], SR)
    want = ref.ratio_hz(NOTE, peg=ref.PEG_LEVEL[level] << 7)
    assert abs(ref.cents(got, want)) < 0.3, \
        f"pitch EG level {level}: {got:.3f} Hz, §7 gives {want:.3f} Hz ({ref.cents(got, want):+.2f} cent)"


def glide_speed(track_t, track_hz, base_hz, lo_oct, hi_oct):
    """Octaves per second of a glide, fitted where the offset lies between lo_oct and hi_oct."""
    off = np.log2(track_hz / base_hz)
    sel = (off > lo_oct) & (off < hi_oct)
    return float(np.polyfit(track_t[sel], off[sel], 1)[0]), int(sel.sum())


# Rate tolerance 2 %: the pitch EG advances every second CPU tick; the fact sheet allows the nominal
# (375.26 Hz) or the effective (372.27 Hz) tick, 0.8 % apart; the period-by-period pitch track of a
# stepped glide fits to < 0.5 %. msfa's 2.5-3 % fast pitch EG (§7) fails it.
@pytest.mark.parametrize("rate", [40, 55, 70, 80])
def test_pitch_eg_rate(rate):
    # glide from L4 = 50 (no offset) up to L1 = 74 (+24/32 octave)
    v = set_voice(single_carrier(), prates=(rate, 99, 99, 99), plevels=(74, 74, 74, 50))
    want = ref.peg_speed_oct_per_s(rate)
    span = ref.peg_offset_octaves(74)
    dur = span / want + 0.2
    x = render(v, note=69, hold=dur)
    t, hz = pitch_track(x, SR)
    got, n = glide_speed(t, hz, ref.ratio_hz(69), 0.15 * span, 0.85 * span)
    assert n > 20, f"only {n} periods inside the glide"
    assert abs(got / want - 1) < 0.02, f"pitch EG rate {rate}: {got:.3f} oct/s, §7 gives {want:.3f} oct/s"
    # and it arrives exactly at the target
    end = f0_zero_crossings(x[-int(0.1 * SR):], SR)
    target = ref.ratio_hz(69, peg=ref.PEG_LEVEL[74] << 7)
    assert abs(ref.cents(end, target)) < 0.3, f"glide ended at {end:.2f} Hz, L1 target {target:.2f} Hz"


def test_pitch_eg_downward_glide():
    rate = 60
    v = set_voice(single_carrier(), prates=(rate, 99, 99, 99), plevels=(30, 30, 30, 50))
    want = ref.peg_speed_oct_per_s(rate)
    span = ref.peg_offset_octaves(30)           # negative
    x = render(v, note=69, hold=abs(span) / want + 0.2)
    t, hz = pitch_track(x, SR)
    got, n = glide_speed(t, hz, ref.ratio_hz(69), 0.85 * span, 0.15 * span)
    assert abs(-got / want - 1) < 0.02, f"downward glide {got:.3f} oct/s, §7 gives -{want:.3f}"


def test_pitch_eg_release_and_key_on_reset():
    # §7: key-on resets the level to L4; R1..R3 run while held; key-off runs to L4 at R4.
    rel_rate = 60
    v = set_voice(single_carrier(), prates=(99, 99, 99, rel_rate), plevels=(50, 50, 50, 62))
    set_op(v, 1, levels=(99, 99, 99, 99))        # the carrier keeps sounding after key-off
    hold = 0.4
    x = render(v, note=69, hold=hold, total=hold + 0.5)
    base = ref.ratio_hz(69)
    # the first period starts near the L4 offset (+12/32 octave) and falls to centre
    t, hz = pitch_track(x, SR)
    first = ref.cents(hz[1], base)
    assert first > 200, f"key-on should start at the L4 pitch (+450 cent); first period at {first:+.0f} cent"
    held = f0_zero_crossings(x[int(0.2 * SR):int(hold * SR)], SR)
    assert abs(ref.cents(held, base)) < 0.3, f"held pitch {held:.3f} Hz, want {base:.3f}"
    want = ref.peg_speed_oct_per_s(rel_rate)
    span = ref.peg_offset_octaves(62)
    after = t > hold
    got, n = glide_speed(t[after], hz[after], base, 0.15 * span, 0.85 * span)
    assert abs(got / want - 1) < 0.02, f"release glide {got:.3f} oct/s, §7 gives {want:.3f}"
    end = f0_zero_crossings(x[-int(0.1 * SR):], SR)
    target = ref.ratio_hz(69, peg=ref.PEG_LEVEL[62] << 7)
    assert abs(ref.cents(end, target)) < 0.3, f"after release: {end:.2f} Hz, L4 target {target:.2f}"


@pytest.mark.parametrize("start_level,target_level", [(60, 51), (40, 49)])
def test_segment_ends_when_the_high_byte_matches(start_level, target_level):
    # §7: end-of-segment compares only the high byte of the 16-bit level, then snaps to the target,
    # so a slow segment ends early with a jump of up to 255 units (here ~13 updates = 70 ms early).
    rate = 16
    pr = ref.PEG_RATE[rate]
    start, target = ref.PEG_LEVEL[start_level] << 7, ref.PEG_LEVEL[target_level] << 7
    n = ref.peg_segment_updates(start, target, pr)
    n_plain = -(-abs(target - start) // pr)           # without the high-byte test
    assert n_plain - n >= 8, "test set-up: the snap must save several updates"
    update = 2 / ref.TICK_HZ
    v = set_voice(single_carrier(), prates=(rate, 99, 99, 99),
                  plevels=(target_level, target_level, target_level, start_level))
    x = render(v, note=69, hold=n_plain * update + 0.3)
    t, hz = pitch_track(x, SR)
    goal = ref.ratio_hz(69, peg=target)
    done = np.nonzero(np.abs([ref.cents(f, goal) for f in hz]) < 3)[0]
    got = t[done[0]]
    want = n * update
    # tolerance: two updates (the tick phase at note-on and the order of step and test) + a period
    assert abs(got - want) < 2 * update + 2 / goal, \
        f"segment ended after {got * 1000:.0f} ms; §7 (high-byte test) gives {want * 1000:.0f} ms, " \
        f"a plain end would be {n_plain * update * 1000:.0f} ms"
