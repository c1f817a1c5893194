"""Performance controls from rendered audio: pitch bend (range, step, dead zone), sustain pedal,
mod wheel / aftertouch routing to pitch, amplitude and EG bias (DX7-FACTS §8.5-8.8, §11.1)."""
import math

import numpy as np
import pytest

import support.dx7_reference as ref
from support.audio_analysis import envelope_db, f0_zero_crossings, pitch_track
from support.engine_voices import set_op, set_voice, single_carrier, synth

SR = 48000
NOTE = 69
FULL_DB = 20 * math.log10(0.25)
# One EGS pitch quantum (1.17 cent): the bend value is exact in 16384-per-octave units, the EGS
# keeps 1024 steps per octave.
BEND_TOL = 1.2


def bent_pitch(value14, range_=2, step=0, note=NOTE):
    s = synth(single_carrier(), SR)
    s.set_function(65, range_)
    s.set_function(66, step)
    s.pitch_bend(value14)
    s.note_on(note, 100)
    x = s.render(SR // 2)
    return f0_zero_crossings(x[int(0.05 * SR):], SR)


@pytest.mark.parametrize("range_", [1, 2, 7, 12])
@pytest.mark.parametrize("value14", [0, 1000, 4096, 8000, 8192, 12288, 16383])
def test_pitch_bend_continuous(range_, value14):
    want = ref.pitch_mod_cents(ref.pitch_bend_units(value14, range_))
    got = ref.cents(bent_pitch(value14, range_), ref.ratio_hz(NOTE))
    assert abs(got - want) < BEND_TOL, \
        f"bend {value14} range {range_}: {got:+.2f} cent, §8.7 gives {want:+.2f} cent"


@pytest.mark.parametrize("value14", [63 << 7, 64 << 7, (65 << 7) + 127])
def test_pitch_bend_dead_zone_and_lsb_ignored(value14):
    # §8.7: MSB only; inputs 63, 64, 65 all map to the centre
    got = ref.cents(bent_pitch(value14, 12), ref.ratio_hz(NOTE))
    assert abs(got) < BEND_TOL, f"bend {value14} (MSB {value14 >> 7}) moved pitch by {got:+.2f} cent"


@pytest.mark.parametrize("step,value14", [(1, 16383), (1, 10000), (2, 0), (3, 16383), (5, 16383),
                                          (7, 16383), (7, 9000), (12, 0)])
def test_pitch_bend_step_mode(step, value14):
    # §8.7 step mode: range ignored; whole steps; S 5 tops out at 10 semitones
    want = ref.pitch_mod_cents(ref.pitch_bend_units(value14, 2, step))
    got = ref.cents(bent_pitch(value14, 2, step), ref.ratio_hz(NOTE))
    assert abs(got - want) < BEND_TOL, \
        f"step {step} bend {value14}: {got:+.2f} cent, §8.7 gives {want:+.2f} cent"


def test_pitch_bend_moves_sounding_note():
    s = synth(single_carrier(), SR)
    s.set_function(65, 2)
    s.note_on(NOTE, 100)
    a = s.render(SR // 4)
    s.pitch_bend(16383)
    s.render(SR // 50)
    b = s.render(SR // 4)
    base = ref.ratio_hz(NOTE)
    assert abs(ref.cents(f0_zero_crossings(a[SR // 50:], SR), base)) < BEND_TOL
    want = ref.pitch_mod_cents(ref.pitch_bend_units(16383, 2))
    got = ref.cents(f0_zero_crossings(b, SR), base)
    assert abs(got - want) < BEND_TOL, f"bend applied to a sounding note: {got:+.2f}, want {want:+.2f}"


def release_voice():
    v = single_carrier(ratio_coarse=4)
    set_op(v, 1, rates=(99, 99, 99, 50), levels=(99, 99, 99, 0))
    return v


def levels(x, periods=20):
    """Level (dB re full scale) per window of whole carrier periods (release_voice's 1760 Hz), so
    the RMS does not ripple with the window's phase."""
    t, lev = envelope_db(x, SR, periods / ref.ratio_hz(NOTE, 4))
    return lev - FULL_DB


@pytest.mark.parametrize("pedal_value", [1, 64, 127])
def test_sustain_pedal(pedal_value):
    # §8.8: CC64, any non-zero value = on; §11.1: key-off while sustained keeps the note until pedal up
    s = synth(release_voice(), SR)
    s.control_change(64, pedal_value)
    s.note_on(NOTE, 100)
    s.render(SR // 10)
    s.note_off(NOTE)
    held = levels(s.render(SR // 2))
    assert np.all(np.abs(held) < 0.2), f"sustained note dropped to {held.min():.1f} dB with pedal {pedal_value}"
    s.control_change(64, 0)
    rel = levels(s.render(SR // 4))
    want = ref.decay_db_per_s(ref.qrate(50)) * 0.2
    assert rel[-5:].mean() < -0.8 * want, f"pedal up: level still {rel[-5:].mean():.1f} dB after 0.2 s"


def test_note_off_without_pedal_releases():
    s = synth(release_voice(), SR)
    s.note_on(NOTE, 100)
    s.render(SR // 10)
    s.note_off(NOTE)
    rel = levels(s.render(SR // 4))
    assert rel[-5:].mean() < -10, "note-off did not release"


def vibrato_extremes(s, seconds=1.2):
    x = s.render(int(seconds * SR))
    t, hz = pitch_track(x[int(0.1 * SR):], SR)
    c = np.array([ref.cents(f, ref.ratio_hz(NOTE)) for f in hz])
    return c.max(), c.min()


@pytest.mark.parametrize("source,fn_range,fn_assign", [("wheel", 70, 71), ("foot", 72, 73),
                                                       ("breath", 74, 75), ("aftertouch", 76, 77)])
def test_controller_to_pitch_scales_lfo(source, fn_range, fn_assign):
    # §8.5/8.8: a controller assigned to pitch adds range8*input>>8 to the LFO pitch depth P;
    # with PMD 0 there is no vibrato until the controller moves.
    v = set_voice(single_carrier(), lfo_speed=30, lfo_wave=3, pmd=0, pms=6, lfo_sync=1)
    s = synth(v, SR)
    s.set_function(fn_range, 99)
    s.set_function(fn_assign, 1)
    s.note_on(NOTE, 100)
    hi, lo = vibrato_extremes(s, 0.6)
    assert hi - lo < 2.5, f"{source} at 0 already gives {hi - lo:.1f} cent of vibrato"
    if source == "aftertouch":
        s.channel_pressure(127)
    else:
        s.control_change({"wheel": 1, "foot": 4, "breath": 2}[source], 127)
    hi, lo = vibrato_extremes(s)
    p = ref.controller_scaled(99, 127)
    want_hi = ref.pitch_mod_cents(ref.pitch_mod_units(127, 0, 6, controller_p=p))
    want_lo = ref.pitch_mod_cents(ref.pitch_mod_units(-128, 0, 6, controller_p=p))
    tol = max(1.2, 0.005 * abs(want_lo)) + 1.0      # + a period-length pitch-track smear at the edges
    assert abs(hi - want_hi) < tol and abs(lo - want_lo) < tol, \
        f"{source} full: vibrato {lo:+.1f}..{hi:+.1f} cent, §8.5 gives {want_lo:+.1f}..{want_hi:+.1f}"


def test_mod_wheel_to_amplitude():
    # §8.6: wheel assigned to amp adds to the AM depth A1 (here AMD 0, AMS 3)
    v = single_carrier(ratio_coarse=4, ams=3)
    set_voice(v, lfo_speed=12, lfo_wave=3, amd=0, lfo_sync=1)
    s = synth(v, SR)
    s.set_function(70, 99)
    s.set_function(71, 2)
    s.note_on(NOTE, 100)
    flat = levels(s.render(SR // 2), 8)
    assert flat.max() - flat[2:].min() < 0.1, "AM without the wheel"
    s.control_change(1, 127)
    lev = levels(s.render(int(1.5 * SR)), 8)
    want = ref.am_attenuation_db(-128, 0, 3, controller_a=ref.controller_scaled(99, 127))
    depth = lev.max() - np.percentile(lev, 2)
    assert abs(depth - want) < 0.3, f"wheel AM depth {depth:.2f} dB, §8.6 gives {want:.2f} dB"


def test_eg_bias_from_aftertouch():
    # §8.6: EG bias: with the controller at rest the operator is attenuated by TABLE_AMP_MOD[255 -
    # range8] * AMS; pushing it fully removes the attenuation.
    v = single_carrier(ratio_coarse=4, ams=3)
    set_voice(v, amd=0, pmd=0)
    s = synth(v, SR)
    s.set_function(76, 99)
    s.set_function(77, 4)
    s.note_on(NOTE, 100)
    rest = levels(s.render(SR // 2))[5:].mean()
    range8 = (99 * 660) >> 8
    want_rest = 8 * ref.AMP_MOD[255 - range8] * ref.AMS_FACTOR[3] / 255 * ref.USTEP_DB
    assert abs(-rest - want_rest) < 0.3, f"EG bias at rest: {-rest:.2f} dB down, §8.6 gives {want_rest:.2f}"
    s.channel_pressure(127)
    pushed = levels(s.render(SR // 2))[10:].mean()
    egb = max(0, range8 - ref.controller_scaled(99, 127))
    want_pushed = 8 * ref.AMP_MOD[255 - egb] * ref.AMS_FACTOR[3] / 255 * ref.USTEP_DB
    assert abs(-pushed - want_pushed) < 0.3, f"EG bias pushed: {-pushed:.2f} dB down, want {want_pushed:.2f}"


@pytest.mark.parametrize("cc7,want_gain", [(127, 1.0), (112, 1.0), (64, 4 / 7), (16, 1 / 7), (15, 0.0)])
def test_volume_cc7_picks_one_of_eight_levels(cc7, want_gain):
    # §8.8: only the top 3 bits of CC7 count (8 DAC reference levels); the engine's documented
    # choice for the unknown level values is gain = level / 7.
    s = synth(release_voice(), SR)
    s.control_change(7, cc7)
    s.note_on(NOTE, 100)
    lev = levels(s.render(SR // 4))[3:]
    amp = 10 ** (lev.mean() / 20) if want_gain else 10 ** (lev.max() / 20)
    if want_gain:
        assert abs(20 * math.log10(amp / want_gain)) < 0.1, f"CC7 {cc7}: gain {amp:.3f}, want {want_gain:.3f}"
    else:
        assert amp < 1e-4, f"CC7 {cc7}: gain {amp:.2e}, want silence"


def test_all_notes_off_releases_held_and_sustained_notes():
    s = synth(release_voice(), SR)
    s.control_change(64, 127)
    s.note_on(NOTE, 100)
    s.note_on(NOTE + 5, 100)
    s.note_off(NOTE + 5)                           # sustained
    s.render(SR // 10)
    s.control_change(123, 0)
    rel = levels(s.render(SR // 2))
    assert rel[-5:].mean() < -20, f"CC123: still {rel[-5:].mean():.1f} dB after 0.4 s"


def test_lfo_delay_does_not_fade_controller_depth():
    # §8.3/8.5: the delay's fade scales the PMD term only; a controller's pitch depth acts at once
    v = set_voice(single_carrier(), lfo_speed=30, lfo_wave=3, pmd=0, pms=6, lfo_delay=99, lfo_sync=1)
    s = synth(v, SR)
    s.set_function(70, 99)
    s.set_function(71, 1)
    s.control_change(1, 127)
    s.note_on(NOTE, 100)
    hi, lo = vibrato_extremes(s, 0.8)              # the delay-99 wait alone is 2.7 s
    p = ref.controller_scaled(99, 127)
    want_hi = ref.pitch_mod_cents(ref.pitch_mod_units(127, 0, 6, controller_p=p))
    assert abs(hi - want_hi) < max(1.2, 0.005 * want_hi) + 1.0, \
        f"wheel vibrato during the LFO delay reaches {hi:+.1f} cent, want {want_hi:+.1f}"
