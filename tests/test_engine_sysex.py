"""SysEx and MIDI input from rendered audio: single-voice dump, voice and function parameter changes,
channel filtering (DX7-FACTS §1.3, §1.6, §8.8)."""
import numpy as np

import dx7_reference as ref
from audio_analysis import f0_zero_crossings
from engine_voices import op_offset, render, set_op, single_carrier, synth, vced

SR = 48000


def vced_dump(v, channel=0):
    data = bytes(v)
    cs = (-sum(data)) & 0x7F
    return bytes([0xF0, 0x43, channel, 0x00, 0x01, 0x1B]) + data + bytes([cs, 0xF7])


def param_change(param, value, channel=0, function=False):
    gg = 0x08 if function else (param >> 7)
    return bytes([0xF0, 0x43, 0x10 | channel, gg, param & 0x7F, value, 0xF7])


def test_single_voice_dump_loads_the_voice():
    target = single_carrier(ratio_coarse=3)
    a = synth(single_carrier(), SR)
    a.sysex(vced_dump(target))
    a.note_on(60, 100)
    x = a.render(SR // 4)
    b = synth(target, SR)
    b.note_on(60, 100)
    y = b.render(SR // 4)
    assert np.array_equal(x, y), "a VCED dump does not load the same voice as load_voice"


def test_dump_through_midi_entry_point():
    target = single_carrier(ratio_coarse=2)
    a = synth(single_carrier(), SR)
    a.midi(vced_dump(target))
    a.note_on(60, 100)
    got = f0_zero_crossings(a.render(SR // 4)[SR // 20:], SR)
    assert abs(ref.cents(got, ref.ratio_hz(60, coarse=2))) < 0.3


def test_voice_parameter_change():
    # §1.6: parameter 123 = OP1 frequency coarse (21*(6-1) + 18)
    s = synth(single_carrier(), SR)
    s.sysex(param_change(op_offset(1) + 18, 3))
    s.note_on(57, 100)
    got = f0_zero_crossings(s.render(SR // 4)[SR // 20:], SR)
    want = ref.ratio_hz(57, coarse=3)
    assert abs(ref.cents(got, want)) < 0.3, f"after the parameter change: {got:.2f} Hz, want {want:.2f}"


def test_voice_parameter_above_127():
    # §1.6: parameters 128..155 use gg = 0x01; 144 = transpose
    s = synth(single_carrier(), SR)
    s.sysex(param_change(144, 36))
    s.note_on(57, 100)
    got = f0_zero_crossings(s.render(SR // 4)[SR // 20:], SR)
    want = ref.ratio_hz(57, transpose=36)
    assert abs(ref.cents(got, want)) < 0.3, f"transpose by sysex: {got:.2f} Hz, want {want:.2f}"


def test_voice_parameter_change_cuts_sounding_notes():
    # §1.6 [FW]: a voice parameter change re-activates the patch and resets all EGS voices
    v = single_carrier()
    set_op(v, 1, rates=(99, 99, 99, 99))
    s = synth(v, SR)
    s.note_on(60, 100)
    s.render(SR // 10)
    s.sysex(param_change(op_offset(1) + 19, 1))       # fine 0 -> 1
    s.render(SR // 20)
    x = s.render(SR // 10)
    assert np.max(np.abs(x)) < 1e-3, "a note kept sounding through a voice parameter change"


def test_function_parameter_change_sets_bend_range():
    # §1.6: gg = 0x08, parameter 65 = pitch-bend range (decoded properly, unlike Dexed)
    s = synth(single_carrier(), SR)
    s.sysex(param_change(65, 12, function=True))
    s.pitch_bend(16383)
    s.note_on(57, 100)
    got = f0_zero_crossings(s.render(SR // 4)[SR // 20:], SR)
    want = ref.ratio_hz(57) * 2 ** (ref.pitch_bend_units(16383, 12) / 16384)
    assert abs(ref.cents(got, want)) < 1.2, f"bend range 12 by sysex: {got:.2f} Hz, want {want:.2f}"


def test_sysex_on_another_channel_is_ignored():
    s = synth(single_carrier(), SR)
    s.set_channel(0)
    s.sysex(vced_dump(single_carrier(ratio_coarse=3), channel=5))
    s.note_on(57, 100)
    got = f0_zero_crossings(s.render(SR // 4)[SR // 20:], SR)
    assert abs(ref.cents(got, ref.ratio_hz(57))) < 0.3, "a dump for channel 6 changed the voice"


def test_channel_filter_for_notes():
    s = synth(single_carrier(), SR)
    s.set_channel(2)
    s.midi(bytes([0x90, 60, 100]))
    s.midi(bytes([0x93, 64, 100]))
    assert np.max(np.abs(s.render(SR // 10))) < 1e-6, "notes on other channels sound"
    s.midi(bytes([0x92, 60, 100]))
    assert np.max(np.abs(s.render(SR // 10))) > 0.2, "a note on the receive channel is silent"


def test_omni_hears_every_channel():
    s = synth(single_carrier(), SR)
    s.midi(bytes([0x9F, 60, 100]))
    assert np.max(np.abs(s.render(SR // 10))) > 0.2


def test_midi_cc_sustain_and_bend_via_midi_bytes():
    s = synth(single_carrier(), SR)
    s.set_function(65, 12)
    s.midi(bytes([0xE0, 0x7F, 0x7F]))                 # full bend up
    s.midi(bytes([0x90, 57, 100]))
    got = f0_zero_crossings(s.render(SR // 4)[SR // 20:], SR)
    want = ref.ratio_hz(57) * 2 ** (ref.pitch_bend_units(16383, 12) / 16384)
    assert abs(ref.cents(got, want)) < 1.2
