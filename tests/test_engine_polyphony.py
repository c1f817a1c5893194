"""Voices from rendered audio: 16-note polyphony, the 17th held note ignored (no stealing of held
notes), voice reuse after release, mono mode (DX7-FACTS §11.1, §11.3)."""
import numpy as np
import pytest

import dx7_reference as ref
from audio_analysis import component_amplitude, f0_zero_crossings
from engine_voices import set_op, single_carrier, synth

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
