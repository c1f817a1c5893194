"""SysEx and MIDI input from rendered audio: single-voice dump, voice and function parameter changes,
channel filtering (DX7-FACTS §1.3, §1.6, §8.8)."""
import numpy as np

import support.dx7_reference as ref
from support.audio_analysis import f0_zero_crossings
from support.engine_voices import op_offset, set_op, single_carrier, synth

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


def test_cc126_cc127_switch_mono_and_poly():
    # §8.8: CC126 (mono) only if data = 1; CC127 poly
    from support.audio_analysis import component_amplitude
    for data, mono in ((1, True), (2, False)):
        s = synth(single_carrier(), SR)
        s.midi(bytes([0xB0, 126, data]))
        s.note_on(60, 100)
        s.note_on(67, 100)
        x = s.render(SR // 2)[SR // 20:]
        a60 = component_amplitude(x, SR, ref.ratio_hz(60))
        assert (a60 < 1e-3) == mono, f"CC126 data {data}: first note amplitude {a60:.3f}"
    s.midi(bytes([0xB0, 126, 1]))
    s.midi(bytes([0xB0, 127, 0]))
    s.note_on(48, 100)
    s.note_on(55, 100)
    x = s.render(SR // 2)[SR // 20:]
    assert component_amplitude(x, SR, ref.ratio_hz(48)) > 0.2, "CC127 did not restore poly"


def test_active_sensing_timeout_releases_notes():
    # §8.8 [FW]: once active sensing (FE) has been seen, 250 ticks (~0.67 s) without any message
    # release all notes.
    v = single_carrier()
    set_op(v, 1, rates=(99, 99, 99, 99))
    s = synth(v, SR)
    s.midi(bytes([0xFE]))
    s.midi(bytes([0x90, 60, 100]))
    s.render(int(0.3 * SR))
    assert np.max(np.abs(s.render(SR // 10))) > 0.2, "note silent too early"
    s.render(int(0.4 * SR))                                  # 0.8 s since the last message
    assert np.max(np.abs(s.render(SR // 10))) < 1e-3, "notes kept sounding after the active-sensing timeout"


def test_no_timeout_without_active_sensing():
    v = single_carrier()
    set_op(v, 1, rates=(99, 99, 99, 99))
    s = synth(v, SR)
    s.midi(bytes([0x90, 60, 100]))
    s.render(SR)
    assert np.max(np.abs(s.render(SR // 10))) > 0.2, "a held note stopped without active sensing"


def test_cc5_sets_portamento_time():
    # §8.8: CC5 -> portamento time (data * 2 * 100) >> 8: data 64 -> 50
    from support.audio_analysis import pitch_track
    def glide(setup):
        s = synth(single_carrier(), SR)
        setup(s)
        s.control_change(65, 127)
        s.note_on(57, 100)
        s.render(SR // 5)
        s.note_off(57)
        s.note_on(69, 100)
        t, hz = pitch_track(s.render(SR // 2), SR)
        return t[np.nonzero(hz > ref.ratio_hz(63))[0][0]]
    by_cc = glide(lambda s: s.control_change(5, 64))
    by_fn = glide(lambda s: s.set_function(69, 50))
    assert abs(by_cc - by_fn) < 0.003, f"CC5 64 glide {by_cc * 1000:.1f} ms vs time 50 {by_fn * 1000:.1f} ms"


def test_operator_switch_parameter_and_dump_turns_all_on():
    # §1.5/§1.6: parameter 155 (gg 0x01, pp 27) is the operator on/off byte, bit 5 = OP1;
    # §1.3: a received single-voice dump switches all six operators back on.
    s = synth(single_carrier(), SR)
    s.sysex(param_change(155, 0x1F))                 # OP1 off
    s.note_on(60, 100)
    assert np.max(np.abs(s.render(SR // 10))) < 1e-3, "OP1 switched off still sounds"
    s.note_off(60)
    s.sysex(vced_dump(single_carrier()))
    s.note_on(62, 100)
    assert np.max(np.abs(s.render(SR // 10))) > 0.2, "after a voice dump OP1 should be on again"


def test_156_byte_voice_carries_the_operator_switches():
    v = bytes(single_carrier()) + bytes([0x3F & ~0x20])   # OP1 off
    s = synth(v, SR)
    s.note_on(60, 100)
    assert np.max(np.abs(s.render(SR // 10))) < 1e-3, "byte 155 (operator on/off) ignored"


def performance_block(fields, channel=0):
    """§1.3 format 1: 94 data bytes (TX7-style performance/function block)."""
    data = bytearray(94)
    for k, v in fields.items():
        data[k] = v
    cs = (-sum(data)) & 0x7F
    return bytes([0xF0, 0x43, channel, 0x01, 0x00, 0x5E]) + bytes(data) + bytes([cs, 0xF7])


def test_performance_block_sets_bend_range_and_mono():
    # §1.3 format 1: offset 2 mono/poly, 3 pitch-bend range, 4 pitch-bend step
    s = synth(single_carrier(), SR)
    s.sysex(performance_block({2: 0, 3: 12, 4: 0}))
    s.pitch_bend(16383)
    s.note_on(57, 100)
    got = f0_zero_crossings(s.render(SR // 4)[SR // 20:], SR)
    want = ref.ratio_hz(57) * 2 ** (ref.pitch_bend_units(16383, 12) / 16384)
    assert abs(ref.cents(got, want)) < 1.2, f"bend range 12 from a performance block: {got:.2f} Hz, want {want:.2f}"
    s.sysex(performance_block({2: 1, 3: 12}))
    s.pitch_bend(8192)
    s.note_on(60, 100)
    s.note_on(67, 100)
    from support.audio_analysis import component_amplitude
    x = s.render(SR // 2)[SR // 20:]
    assert component_amplitude(x, SR, ref.ratio_hz(60)) < 1e-3, "performance block mono flag ignored"


def test_performance_block_sensitivities_scale_to_99():
    # §1.3: sensitivities 0..15 become 0..99 by (v * 212 * 8) >> 8; offsets 9/10 wheel sens/assign
    from support.audio_analysis import pitch_track
    v = single_carrier()
    v[137], v[142], v[139], v[143] = 30, 3, 0, 6        # LFO speed 30, square, PMD 0, PMS 6
    s = synth(v, SR)
    s.sysex(performance_block({9: 15, 10: 1}))
    s.control_change(1, 127)
    s.note_on(69, 100)
    t, hz = pitch_track(s.render(SR)[SR // 10:], SR)
    hi = max(ref.cents(f, ref.ratio_hz(69)) for f in hz)
    rng = (15 * 212 * 8) >> 8
    want = ref.pitch_mod_cents(ref.pitch_mod_units(127, 0, 6, controller_p=ref.controller_scaled(rng, 127)))
    assert abs(hi - want) < max(1.2, 0.005 * want) + 1.0, f"wheel depth {hi:+.1f} cent, want {want:+.1f}"
