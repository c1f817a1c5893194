"""dx7live.render_batch and render_midi: sample rate honoured, bit-identity, independence, MIDI files."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dx7live
from dx7live._io import read_wav
from dx7live.patch.voice import Voice

from support.paths import REPO  # noqa: E402


def measured_pitch(audio: np.ndarray, sample_rate: float) -> float:
    """Frequency of the strongest spectral peak (Hann window, zero padding, parabolic interpolation)."""
    a = np.asarray(audio, dtype=np.float64)
    n = len(a)
    spec = np.abs(np.fft.rfft(a * np.hanning(n), 8 * n))
    k = int(np.argmax(spec[1:-1])) + 1
    y0, y1, y2 = np.log(spec[k - 1:k + 2] + 1e-300)
    delta = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return (k + delta) * sample_rate / (8 * n)


def cents(a: float, b: float) -> float:
    return 1200.0 * np.log2(a / b)


def sine_voice(coarse: int = 1, fine: int = 0, transpose: int = 24) -> Voice:
    """INIT VOICE: OP1 alone, a sine at key x ratio, no pitch EG offset, no vibrato."""
    v = Voice.init()
    v.op[1].coarse = coarse
    v.op[1].fine = fine
    v.transpose = transpose
    return v


def voices_with_variety() -> list[Voice]:
    """A few voices that use feedback, LFO, pitch EG and several algorithms."""
    out = []
    for k in range(6):
        v = Voice.init()
        v.algorithm = 1 + 5 * k
        v.feedback = k
        v.op[2].output_level = 60 + 5 * k
        v.op[2].coarse = 1 + k
        v.lfo_pitch_mod_depth = 10 * k
        v.lfo_wave = k % 6
        v.lfo_key_sync = bool(k % 2)
        v.osc_key_sync = bool(k % 2)
        v.pitch_eg_l1 = 40 + 4 * k
        v.name = f"TEST {k}"
        out.append(v)
    return out


@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100, 48000])
def test_sample_rate_is_honoured(sample_rate):
    audio = dx7live.render_batch(sine_voice(), 69, 100, 1.0, 1.0, sample_rate)
    assert audio.shape == (1, sample_rate)
    assert audio.dtype == np.float32
    f = measured_pitch(audio[0, sample_rate // 10:], sample_rate)
    assert abs(cents(f, 440.0)) < 3.0, f"{f} Hz at {sample_rate} Hz"


def test_length_follows_duration_and_rate():
    a = dx7live.render_batch(sine_voice(), 60, 100, 0.1, 0.25, 22050)
    assert a.shape == (1, round(0.25 * 22050))


def test_batch_is_bit_identical_to_single_items():
    voices = voices_with_variety()
    notes = [36, 48, 60, 72, 84, 96]
    vels = [10, 40, 64, 90, 110, 127]
    batch = dx7live.render_batch(voices, notes, vels, 0.3, 0.5, 16000, threads=2)
    for i, v in enumerate(voices):
        alone = dx7live.render_batch(v, notes[i], vels[i], 0.3, 0.5, 16000, threads=1)
        np.testing.assert_array_equal(batch[i], alone[0])
    assert np.any(batch != 0)


def test_items_do_not_depend_on_position_or_history():
    voices = voices_with_variety()
    a = dx7live.render_batch(voices, 60, 100, 0.3, 0.5, 16000)
    order = [5, 3, 1, 0, 2, 4]
    b = dx7live.render_batch([voices[i] for i in order], 60, 100, 0.3, 0.5, 16000, threads=1)
    np.testing.assert_array_equal(a[order], b)
    # a long, loud history rendered before does not change the next item
    dx7live.render_batch(voices, 30, 127, 2.0, 2.0, 16000)
    c = dx7live.render_batch(voices, 60, 100, 0.3, 0.5, 16000)
    np.testing.assert_array_equal(a, c)


def test_thread_count_does_not_change_the_result():
    voices = voices_with_variety() * 3
    one = dx7live.render_batch(voices, 64, 100, 0.2, 0.3, 16000, threads=1)
    many = dx7live.render_batch(voices, 64, 100, 0.2, 0.3, 16000, threads=4)
    np.testing.assert_array_equal(one, many)


def test_explicit_seeds_are_used_and_default_seeds_are_content_based():
    v = voices_with_variety()[3]
    a = dx7live.render_batch([v, v], 60, 100, 0.2, 0.3, 16000)
    np.testing.assert_array_equal(a[0], a[1])  # same content, same seed, same audio


def test_annotations_have_the_frame_rate_and_follow_the_key():
    v = sine_voice()
    out = dx7live.render_batch(v, [57, 69], 100, 0.5, 1.0, 16000, annotate=True, frame_rate=250)
    assert out.audio.shape == (2, 16000)
    assert out.pitch_hz.shape == (2, 250) and out.carrier_amp.shape == (2, 250)
    assert abs(cents(float(np.median(out.pitch_hz[1])), 440.0)) < 2
    assert abs(cents(float(np.median(out.pitch_hz[0])), 220.0)) < 2
    # carrier amplitude is on the audio's scale: the held part's peak matches it
    held = out.audio[1, 4000:8000]
    assert np.max(np.abs(held)) == pytest.approx(float(np.median(out.carrier_amp[1, 60:120])), rel=0.1)
    assert out.carrier_amp[1, -1] < out.carrier_amp[1, 100]  # released


@pytest.mark.parametrize("kwargs, message", [
    ({"notes": 128}, "notes"), ({"notes": -1}, "notes"), ({"velocities": 0}, "velocities"),
    ({"velocities": 128}, "velocities"), ({"duration": 0}, "duration"), ({"duration": float("nan")}, "duration"),
    ({"note_duration": -1}, "note_duration"), ({"sample_rate": 4000}, "sample_rate"), ({"sample_rate": 200000}, "sample_rate"),
    ({"sample_rate": "fast"}, "sample_rate"), ({"threads": -1}, "threads"), ({"notes": 60.5}, "notes"),
    ({"notes": [60, 61], "velocities": [1, 2, 3]}, "one value per item"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    args = {"voices": sine_voice(), "notes": 60, "velocities": 100, "note_duration": 0.1, "duration": 0.2,
            "sample_rate": 16000}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        dx7live.render_batch(**args)


def test_bad_voices_raise():
    with pytest.raises(ValueError, match="155"):
        dx7live.render_batch(np.zeros((2, 100), np.uint8), 60, 100, 0.1, 0.2, 16000)
    with pytest.raises(ValueError, match="one value per item"):
        dx7live.render_batch([sine_voice()] * 3, [60, 61], 100, 0.1, 0.2, 16000)
    with pytest.raises(ValueError, match="2 voices for 3 items"):
        dx7live.render_batch([sine_voice()] * 2, [60, 61, 62], 100, 0.1, 0.2, 16000)
    with pytest.raises(ValueError, match="0..255"):
        dx7live.render_batch(np.full((1, 155), 300), 60, 100, 0.1, 0.2, 16000)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 127), st.integers(1, 127)), min_size=1, max_size=5),
       st.integers(0, 255))
def test_any_valid_input_renders_finite_audio_identically(items, fill):
    """Random notes, velocities and even garbage voice bytes: finite audio, same in a batch or alone."""
    rng = np.random.default_rng(fill)
    vced = rng.integers(0, 128, size=(len(items), 155), dtype=np.uint8)
    notes = [n for n, _ in items]
    vels = [v for _, v in items]
    batch = dx7live.render_batch(vced, notes, vels, 0.05, 0.08, 8000)
    assert np.all(np.isfinite(batch))
    last = dx7live.render_batch(vced[-1], notes[-1], vels[-1], 0.05, 0.08, 8000)
    np.testing.assert_array_equal(batch[-1], last[0])


# ---------------------------------------------------------------- MIDI files

def write_midi(path: Path, tracks: list[list[mido.Message]], ticks_per_beat: int = 480) -> None:
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    for msgs in tracks:
        t = mido.MidiTrack()
        t.extend(msgs)
        mid.tracks.append(t)
    mid.save(str(path))


def onset_times(audio: np.ndarray, sample_rate: float, threshold: float = 1e-3) -> list[float]:
    """Start times of sounding regions (runs above threshold separated by >= 50 ms of silence)."""
    loud = np.abs(audio) > threshold
    idx = np.flatnonzero(loud)
    starts = [idx[0]] + [b for a, b in zip(idx[:-1], idx[1:]) if b - a > 0.05 * sample_rate]
    return [s / sample_rate for s in starts]


def test_midi_file_events_land_on_their_frames_with_tempo_changes(tmp_path):
    """Two notes, with a tempo change between them: onsets at the exact times the tempo map gives."""
    sr = 16000
    bank = [sine_voice()]
    # 480 ticks per beat; tempo 500000 us (120 bpm) then 250000 us (240 bpm) after beat 1
    msgs = [
        mido.MetaMessage("set_tempo", tempo=500000, time=0),
        mido.Message("note_on", note=69, velocity=100, time=480),     # t = 0.5 s
        mido.Message("note_off", note=69, velocity=0, time=240),      # t = 0.75 s
        mido.MetaMessage("set_tempo", tempo=250000, time=0),
        mido.Message("note_on", note=69, velocity=100, time=960),     # t = 0.75 + 0.5 = 1.25 s
        mido.Message("note_off", note=69, velocity=0, time=480),      # t = 1.5 s
    ]
    path = tmp_path / "tempo.mid"
    write_midi(path, [msgs])
    audio = dx7live.render_midi(path, bank, sample_rate=sr)
    on = onset_times(audio, sr)
    assert len(on) == 2
    assert on[0] == pytest.approx(0.5, abs=2 / sr)
    assert on[1] == pytest.approx(1.25, abs=2 / sr)
    # output length = last event (1.5 s) + a release tail that ends in silence
    assert 1.5 < len(audio) / sr < 1.5 + 10.0
    assert np.max(np.abs(audio[-100:])) < 1e-3


def test_midi_program_changes_and_channels(tmp_path):
    """Channel 1 plays voice 1 (ratio 1), channel 2 switches to voice 2 (ratio 2): both sound, summed."""
    sr = 16000
    bank = [sine_voice(coarse=1), sine_voice(coarse=2)]
    ch0 = [mido.Message("note_on", channel=0, note=57, velocity=100, time=0),
           mido.Message("note_off", channel=0, note=57, time=960)]
    ch1 = [mido.Message("program_change", channel=1, program=1, time=0),
           mido.Message("note_on", channel=1, note=57, velocity=100, time=0),
           mido.Message("note_off", channel=1, note=57, time=960)]
    path = tmp_path / "two.mid"
    write_midi(path, [ch0, ch1])
    audio = dx7live.render_midi(path, bank, sample_rate=sr)
    seg = audio[int(0.2 * sr):int(0.8 * sr)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / sr)
    peak_220 = spec[np.argmin(abs(freqs - 220))]
    peak_440 = spec[np.argmin(abs(freqs - 440))]
    assert peak_220 > 0.3 * spec.max() and peak_440 > 0.3 * spec.max()
    # the same file with channel 2 alone is exactly the mix minus channel 1
    write_midi(tmp_path / "one.mid", [ch0])
    only0 = dx7live.render_midi(tmp_path / "one.mid", bank, sample_rate=sr)
    n = min(len(only0), len(audio))
    assert np.max(np.abs(audio[:n] - only0[:n])) > 0.1


def test_midi_pitch_bend_moves_the_pitch(tmp_path):
    sr = 16000
    msgs = [mido.Message("note_on", note=69, velocity=100, time=0),
            mido.Message("pitchwheel", pitch=8191, time=480),
            mido.Message("note_off", note=69, time=480)]
    write_midi(tmp_path / "bend.mid", [msgs])
    audio = dx7live.render_midi(tmp_path / "bend.mid", [sine_voice()], sample_rate=sr)
    before = measured_pitch(audio[int(0.1 * sr):int(0.45 * sr)], sr)
    after = measured_pitch(audio[int(0.6 * sr):int(0.95 * sr)], sr)
    assert abs(cents(before, 440)) < 5
    assert cents(after, before) > 100  # bent up (default bend range is at least 2 semitones)


def test_midi_errors(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    with pytest.raises(ValueError, match="MIDI"):
        dx7live.render_midi(bad, [sine_voice()])
    good = tmp_path / "g.mid"
    write_midi(good, [[mido.Message("note_on", note=60, velocity=1, time=0)]])
    with pytest.raises(ValueError, match="program"):
        dx7live.render_midi(good, [sine_voice()], program=3)


# ---------------------------------------------------------------- the command line

def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dx7live", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_cli_render_note_with_the_builtin_bank(tmp_path):
    r = run_cli("render", "--note", "60", "-o", "a.wav", "--sample-rate", "16000", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    audio, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16000 and len(audio) == 2 * 16000
    assert np.max(np.abs(audio)) > 0.01
    # never overwrites without --force
    r2 = run_cli("render", "--note", "62", "-o", "a.wav", cwd=tmp_path)
    assert r2.returncode == 2 and "--force" in r2.stderr
    assert np.array_equal(read_wav(tmp_path / "a.wav")[0], audio)


def test_cli_render_midi_file(tmp_path):
    write_midi(tmp_path / "s.mid", [[mido.Message("note_on", note=60, velocity=100, time=0),
                                     mido.Message("note_off", note=60, time=480)]])
    r = run_cli("render", "s.mid", "-o", "s.wav", "--sample-rate", "16000", "--tail", "0.5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    audio, rate = read_wav(tmp_path / "s.wav")
    assert len(audio) == pytest.approx(1.0 * 16000, abs=2)
    r = run_cli("render", "s.mid", "-o", "n.wav", "--sample-rate", "16000", "--normalize", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert np.max(np.abs(read_wav(tmp_path / "n.wav")[0])) == pytest.approx(10 ** (-1 / 20), abs=1e-3)
    r = run_cli("render", "missing.mid", "-o", "x.wav", cwd=tmp_path)
    assert r.returncode == 2 and "missing.mid" in r.stderr
    r = run_cli("render", "s.mid", "--program", "99", "-o", "y.wav", cwd=tmp_path)
    assert r.returncode == 2 and "--program must be 1.." in r.stderr and not (tmp_path / "y.wav").exists()


def test_midi_sysex_voice_dump_in_the_file_changes_the_sound(tmp_path):
    """A VCED single-voice dump inside the file replaces the voice: ratio 1 -> ratio 2 (pitch doubles)."""
    from dx7live.patch.sysex import vced_message

    sr = 16000
    dump = vced_message(sine_voice(coarse=2).to_vced())
    msgs = [mido.Message("note_on", note=57, velocity=100, time=0),
            mido.Message("note_off", note=57, time=480),
            mido.Message("sysex", data=list(dump[1:-1]), time=0),
            mido.Message("note_on", note=57, velocity=100, time=240),
            mido.Message("note_off", note=57, time=480)]
    write_midi(tmp_path / "syx.mid", [msgs])
    audio = dx7live.render_midi(tmp_path / "syx.mid", [sine_voice()], sample_rate=sr)
    first = measured_pitch(audio[int(0.1 * sr):int(0.45 * sr)], sr)
    second = measured_pitch(audio[int(0.85 * sr):int(1.2 * sr)], sr)
    assert abs(cents(first, 220)) < 5
    assert abs(cents(second, 440)) < 5


def test_midi_sustain_pedal_holds_notes(tmp_path):
    """CC64: a note released while the pedal is down keeps sounding until the pedal comes up."""
    sr = 16000

    def render(pedal: bool) -> np.ndarray:
        msgs = [mido.Message("control_change", control=64, value=127 if pedal else 0, time=0),
                mido.Message("note_on", note=69, velocity=100, time=0),
                mido.Message("note_off", note=69, time=240),                  # 0.25 s
                mido.Message("control_change", control=64, value=0, time=720)]  # 1.0 s
        write_midi(tmp_path / "sus.mid", [msgs])
        return dx7live.render_midi(tmp_path / "sus.mid", [sine_voice()], sample_rate=sr, tail=0.5)

    held, plain = render(True), render(False)
    window = slice(int(0.6 * sr), int(0.9 * sr))
    assert np.max(np.abs(held[window])) > 10 * np.max(np.abs(plain[window])) + 1e-6


def test_cli_render_voice_of_a_bank_matches_render_batch(tmp_path):
    from dx7live.patch.writers import save_bank

    voices = [sine_voice(coarse=1), sine_voice(coarse=3)]
    save_bank(voices, tmp_path / "b.syx")
    r = run_cli("render", "b.syx", "--voice", "2", "--note", "48", "--velocity", "90", "--hold", "0.3",
                "--release", "0.2", "--sample-rate", "22050", "-o", "n.wav", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    audio, rate = read_wav(tmp_path / "n.wav")
    ref = dx7live.render_batch(voices[1], 48, 90, 0.3, 0.5, 22050)[0]
    assert rate == 22050 and len(audio) == len(ref)
    assert np.max(np.abs(audio - ref)) < 1.5 / 32767
    for bad, where in ((["--voice", "33"], "--voice"), (["--note", "200"], "note"), (["--velocity", "0"], "velocit")):
        r = run_cli("render", "b.syx", *bad, "-o", "x.wav", cwd=tmp_path)
        assert r.returncode == 2 and where in r.stderr and not (tmp_path / "x.wav").exists()


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=200))
def test_damaged_midi_files_raise_value_error(tmp_path_factory, junk):
    """A valid header followed by anything: rendered, or rejected with ValueError naming the file."""
    path = tmp_path_factory.mktemp("midi") / "junk.mid"
    header = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk" + len(junk).to_bytes(4, "big")
    path.write_bytes(header + junk)
    try:
        audio = dx7live.render_midi(path, [sine_voice()], sample_rate=8000, tail=0.1)
    except ValueError as exc:
        assert "junk.mid" in str(exc)
    else:
        assert audio.dtype == np.float32 and np.all(np.isfinite(audio))
