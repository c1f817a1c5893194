"""Voices from rendered audio: 16-note polyphony, the 17th held note ignored (no stealing of held
notes), voice reuse after release, mono mode (DX7-FACTS §11.1, §11.3)."""
import numpy as np
import pytest

import support.dx7_reference as ref
from support.audio_analysis import component_amplitude, f0_zero_crossings
from support.engine_voices import set_op, single_carrier, synth

SR = 48000
NOTES16 = list(range(48, 80, 2))          # 16 notes, a whole tone apart


def amp_at(x, note):
    return component_amplitude(x, SR, ref.ratio_hz(note))


def test_sixteen_voices_sound_together():
    s = synth(single_carrier(), SR)
    for n in NOTES16:
        s.note_on(n, 100)
    x = s.render(SR // 2)[SR // 20:]
    for n in NOTES16:
        a = amp_at(x, n)
        assert abs(a - 0.25) < 0.01, f"note {n} amplitude {a:.4f} with 16 held, want 0.25"
    assert s.active_voices() == 16


def test_seventeenth_held_note_is_ignored():
    # §11.1: if all 16 keys are held the new note is ignored - the DX7 never steals a held note
    s = synth(single_carrier(), SR)
    for n in NOTES16:
        s.note_on(n, 100)
    s.render(SR // 20)
    s.note_on(83, 100)
    x = s.render(SR // 2)[SR // 20:]
    assert amp_at(x, 83) < 1e-3, f"the 17th note sounds (amplitude {amp_at(x, 83):.4f})"
    for n in NOTES16:
        assert amp_at(x, n) > 0.24, f"held note {n} was stolen"
    assert s.active_voices() == 16


def test_released_voice_is_reused():
    v = single_carrier()
    set_op(v, 1, rates=(99, 99, 99, 99), levels=(99, 99, 99, 0))
    s = synth(v, SR)
    for n in NOTES16:
        s.note_on(n, 100)
    s.render(SR // 20)
    s.note_off(NOTES16[3])
    s.render(SR // 10)                    # rate 99 release: gone in ~6 ms
    s.note_on(83, 100)
    x = s.render(SR // 2)[SR // 20:]
    assert amp_at(x, 83) > 0.24, "a note after a release did not get the freed voice"
    assert amp_at(x, NOTES16[3]) < 1e-3


@pytest.mark.parametrize("polyphony", [1, 4, 8])
def test_smaller_polyphony(polyphony):
    s = synth(single_carrier(), SR, polyphony=polyphony)
    for n in NOTES16[:polyphony + 1]:
        s.note_on(n, 100)
    x = s.render(SR // 2)[SR // 20:]
    for n in NOTES16[:polyphony]:
        assert amp_at(x, n) > 0.24, f"polyphony {polyphony}: note {n} missing"
    assert amp_at(x, NOTES16[polyphony]) < 1e-3, f"polyphony {polyphony}: extra note sounds"


def test_same_note_twice_is_one_voice_per_key_event():
    s = synth(single_carrier(), SR)
    s.note_on(60, 100)
    s.note_on(60, 100)
    s.render(SR // 10)
    s.note_off(60)
    s.render(SR // 10)
    # the DX7 releases the voice holding the key; whatever the engine does with the double
    # note-on, the output must stay bounded and a second note-off must silence it
    s.note_off(60)
    x = s.render(SR)
    assert np.max(np.abs(x[-SR // 4:])) < 1e-3, "a key pressed twice keeps sounding after both note-offs"


def test_note_on_velocity_zero_is_note_off():
    v = single_carrier()
    set_op(v, 1, rates=(99, 99, 99, 99))
    s = synth(v, SR)
    s.midi(bytes([0x90, 60, 100]))
    s.render(SR // 10)
    s.midi(bytes([0x90, 60, 0]))
    x = s.render(SR // 10)
    assert np.max(np.abs(x[SR // 20:])) < 1e-3, "note-on with velocity 0 did not release the note"


def test_mono_mode_plays_one_note_legato():
    # §11.3: mono: one voice; a second key while the first is held takes over the pitch (legato)
    s = synth(single_carrier(), SR)
    s.set_function(64, 1)
    s.note_on(60, 100)
    s.render(SR // 10)
    s.note_on(67, 100)
    x = s.render(SR // 2)[SR // 20:]
    assert amp_at(x, 60) < 1e-3, "mono mode: the first note still sounds"
    assert amp_at(x, 67) > 0.24, "mono mode: the second note does not sound"
    s.note_off(67)
    y = s.render(SR // 2)[SR // 20:]
    got = f0_zero_crossings(y, SR)
    assert abs(ref.cents(got, ref.ratio_hz(60))) < 1, f"after release the held key should sound again ({got:.1f} Hz)"


def test_mono_legato_keeps_the_first_notes_levels():
    # §11.3: legato notes do not recompute the operator levels (velocity, key scaling)
    from support.audio_analysis import rms
    v = single_carrier(kvs=7)
    s = synth(v, SR)
    s.set_function(64, 1)
    s.note_on(60, 127)
    s.render(SR // 10)
    s.note_on(62, 1)                              # legato, very soft
    x = s.render(SR // 4)[SR // 20:]
    loud = ref.level_db(ref.operator_level(ref.default_op(kvs=7), 60, 127))
    got = 20 * np.log10(rms(x) * np.sqrt(2) / 0.25)
    assert abs(got - loud) < 0.2, f"legato note at {got:.1f} dB; the first note's level is {loud:.1f} dB"
    s.note_off(62)
    s.note_off(60)
    s.render(SR // 4)
    s.note_on(62, 1)                              # a fresh first note: its own velocity
    y = s.render(SR // 4)[SR // 20:]
    soft = ref.level_db(ref.operator_level(ref.default_op(kvs=7), 62, 1))
    got = 20 * np.log10(rms(y) * np.sqrt(2) / 0.25)
    assert abs(got - soft) < 0.2, f"new mono note at {got:.1f} dB, want {soft:.1f} dB"


def test_poly_portamento_glide():
    # §11.4: poly, portamento switch on (CC65), time 50, retain: the new voice starts at the
    # previous note's pitch and moves by R * (1 + |distance| / 1024) every second tick.
    from support.audio_analysis import pitch_track
    time = 50
    s = synth(single_carrier(), SR)
    s.set_function(69, time)
    s.control_change(65, 127)
    s.note_on(57, 100)
    s.render(SR // 5)
    s.note_off(57)
    s.note_on(69, 100)
    x = s.render(SR // 2)
    t, hz = pitch_track(x, SR)
    start, target = ref.key_pitch(57), ref.key_pitch(69)
    track = ref.portamento_track(time, start, target, 200)
    period = 2 / ref.TICK_HZ
    # time the glide passes the halfway pitch (a quarter octave above A3 is not needed: use key pitch)
    half = (start + target) / 2
    want = (next(i for i, p in enumerate(track) if p >= half) + 1) * period
    base = ref.ratio_hz(57)
    offs = 4096 * np.log2(hz / base)
    got = t[np.nonzero(offs >= half - start)[0][0]]
    # tolerance: two pitch updates (10.7 ms) - the update phase relative to the note-on is free
    assert abs(got - want) < 2 * period + 0.002, \
        f"glide reached halfway after {got * 1000:.1f} ms, §11.4 gives {want * 1000:.1f} ms"
    end = ref.cents(np.median(hz[t > 0.4]), ref.ratio_hz(69))
    assert abs(end) < 0.5, f"glide ended {end:+.2f} cent off the target"


def mono_pitch(s):
    y = s.render(SR // 5)[SR // 20:]
    return f0_zero_crossings(y, SR)


def test_mono_note_priority_follows_direction():
    # §11.3: two keys: the new key wins and sets the direction (up here). Three or more keys: a
    # new key takes over only if it lies further in that direction. On release the highest
    # remaining key sounds when the direction is up.
    s = synth(single_carrier(), SR)
    s.set_function(64, 1)
    s.note_on(60, 100)
    s.note_on(64, 100)                     # up
    assert abs(ref.cents(mono_pitch(s), ref.ratio_hz(64))) < 1
    s.note_on(62, 100)                     # not further up: ignored as a target
    assert abs(ref.cents(mono_pitch(s), ref.ratio_hz(64))) < 1, "a lower third key took over"
    s.note_on(67, 100)                     # further up: takes over
    assert abs(ref.cents(mono_pitch(s), ref.ratio_hz(67))) < 1
    s.note_off(67)                         # highest remaining: 64
    assert abs(ref.cents(mono_pitch(s), ref.ratio_hz(64))) < 1, "after release the highest key should sound"


def test_glissando_moves_in_semitones():
    # §11.4: with glissando on, the sounding pitch jumps by whole key steps
    from support.audio_analysis import pitch_track
    s = synth(single_carrier(), SR)
    s.set_function(69, 70)
    s.set_function(68, 1)
    s.control_change(65, 127)
    s.note_on(57, 100)
    s.render(SR // 5)
    s.note_off(57)
    s.note_on(69, 100)
    x = s.render(SR)
    t, hz = pitch_track(x, SR)
    keys = np.array([ref.ratio_hz(n) for n in range(55, 72)])
    off = np.array([np.min(np.abs(1200 * np.log2(f / keys))) for f in hz])
    # away from the jumps themselves (one period straddles each), every period sits on a key
    assert np.mean(off < 5) > 0.9, f"only {np.mean(off < 5):.0%} of the glide sits on semitones"
    heard = {int(np.argmin(np.abs(1200 * np.log2(f / keys)))) + 55 for f, o in zip(hz, off) if o < 5}
    assert set(range(58, 69)) <= heard, f"the glissando skipped keys: heard {sorted(heard)}"


@pytest.mark.parametrize("mode", [0, 1])
def test_portamento_retain_and_follow(mode):
    # §11.4 poly: "retain" (0) leaves other voices alone; "follow" (1) retargets every voice whose
    # key is not held (here a sustained one) to the new note, so it glides there too.
    s = synth(single_carrier(), SR)
    s.set_function(69, 30)
    s.set_function(67, mode)
    s.control_change(65, 127)
    s.control_change(64, 127)
    s.note_on(57, 100)
    s.render(SR // 10)
    s.note_off(57)                             # sustained by the pedal
    s.note_on(69, 100)
    s.render(SR // 2)                          # time 30: an octave in ~0.14 s
    x = s.render(SR // 2)
    a57 = amp_at(x, 57)
    if mode == 0:
        assert a57 > 0.24, f"retain: the sustained note moved (amplitude at A3 {a57:.3f})"
    else:
        assert a57 < 1e-3, f"follow: the sustained note did not glide to the new note ({a57:.3f} at A3)"
        assert abs(ref.cents(f0_zero_crossings(x, SR), ref.ratio_hz(69))) < 1



@pytest.mark.parametrize("mode", [0, 1])
def test_mono_portamento_fingered_and_full_time(mode):
    # §11.4 mono: fingered (0) glides only between legato notes; full time (1) whenever it is on
    from support.audio_analysis import pitch_track
    s = synth(single_carrier(), SR)
    s.set_function(64, 1)
    s.set_function(69, 40)
    s.set_function(67, mode)
    s.control_change(65, 127)
    s.note_on(57, 100)
    s.render(SR // 2)
    s.note_off(57)
    s.render(SR // 10)
    s.note_on(69, 100)                         # a new first note (no key held)
    t, hz = pitch_track(s.render(SR // 20), SR)
    first = ref.cents(hz[2], ref.ratio_hz(69))
    if mode == 0:
        assert abs(first) < 2, f"fingered: a non-legato note glided (starts {first:+.0f} cent off)"
    else:
        assert first < -300, f"full time: no glide from the previous note (starts {first:+.0f} cent off)"
    s.render(SR // 2)
    s.note_on(57, 100)                         # legato: glides in both modes
    t, hz = pitch_track(s.render(SR // 20), SR)
    first = ref.cents(hz[2], ref.ratio_hz(57))
    assert first > 300, f"legato note did not glide (starts {first:+.0f} cent off)"
