"""voice_f0 and the f0/loudness annotations, checked against the rendered audio."""
from __future__ import annotations

import math

import numpy as np
import pytest

import dx7live
from dx7live.patch.analysis import audible_mask, all_fixed_mask, all_ratio_mask, fundamental
from dx7live.patch.voice import Voice

SR = 16000


def spectrum_peaks(audio: np.ndarray, sr: float, floor_db: float = -30.0) -> list[float]:
    """Frequencies of the local spectral maxima within ``floor_db`` of the strongest one."""
    n = len(audio)
    spec = np.abs(np.fft.rfft(audio * np.hanning(n), 4 * n))
    db = 20 * np.log10(spec / spec.max() + 1e-12)
    k = np.flatnonzero((db[1:-1] > floor_db) & (spec[1:-1] >= spec[:-2]) & (spec[1:-1] >= spec[2:])) + 1
    return list(k * sr / (4 * n))


def assert_fundamental_matches_audio(voice: Voice, note: int) -> float:
    """Every strong partial is a multiple of f0_hz, and together they have no larger common divisor."""
    f0 = dx7live.voice_f0(voice, note)
    audio = dx7live.render_batch(voice, note, 100, 1.0, 1.0, SR)[0][SR // 5:]
    peaks = [p for p in spectrum_peaks(audio, SR) if p > 20]
    assert peaks, "no partials"
    harmonics = [p / f0.f0_hz for p in peaks]
    ints = [round(h) for h in harmonics]
    for h, i in zip(harmonics, ints):
        assert i >= 1 and abs(h - i) < 0.02 * max(i, 1) + 0.01, (f0, peaks)
    assert math.gcd(*ints) == 1 if len(ints) > 1 else ints[0] == 1, (f0, peaks)
    return f0.f0_hz


def sine(coarse=1, fine=0, transpose=24) -> Voice:
    v = Voice.init()
    v.op[1].coarse, v.op[1].fine, v.transpose = coarse, fine, transpose
    return v


def test_f0_plain_sine_is_the_key():
    assert dx7live.voice_f0(sine(), 69).f0_hz == pytest.approx(440.0)
    assert assert_fundamental_matches_audio(sine(), 69) == pytest.approx(440.0)


def test_f0_coarse_zero_is_half_the_key():
    f = dx7live.voice_f0(sine(coarse=0), 69)
    assert f.f0_hz == pytest.approx(220.0) and f.ratio == 0.5 and f.kind == "harmonic"
    assert_fundamental_matches_audio(sine(coarse=0), 69)


@pytest.mark.parametrize("transpose, expected", [(36, 880.0), (12, 220.0), (24 + 7, 440 * 2 ** (7 / 12))])
def test_f0_follows_transpose(transpose, expected):
    v = sine(transpose=transpose)
    assert dx7live.voice_f0(v, 69).f0_hz == pytest.approx(expected)
    assert_fundamental_matches_audio(v, 69)


def test_f0_with_transpose_and_coarse_zero_together():
    v = sine(coarse=0, transpose=12)  # an octave down and a half ratio: two octaves below the key
    assert dx7live.voice_f0(v, 81).f0_hz == pytest.approx(220.0)
    assert_fundamental_matches_audio(v, 81)


def test_f0_of_fm_pair_is_the_gcd_of_carrier_and_modulator():
    """Carrier 2, modulator 3: sidebands at 2 +- 3k -> every multiple of 1 (f0 = key), not 2."""
    v = sine(coarse=2)
    v.op[2].coarse = 3
    v.op[2].output_level = 80
    f = dx7live.voice_f0(v, 57)
    assert f.ratio == pytest.approx(1.0) and f.kind == "harmonic"
    assert_fundamental_matches_audio(v, 57)


def test_f0_with_fine_ratios_uses_the_exact_rational_gcd():
    """Carrier 1.00, modulator 3.50: partials on multiples of 0.5 x key."""
    v = sine()
    v.op[2].coarse, v.op[2].fine, v.op[2].output_level = 3, 50, 75
    f = dx7live.voice_f0(v, 60)
    assert f.ratio == pytest.approx(0.5)
    assert_fundamental_matches_audio(v, 60)


def test_silent_modulators_do_not_count():
    v = sine(coarse=2)
    v.op[2].coarse = 3
    v.op[2].output_level = 0  # OP2 makes no modulation
    assert dx7live.voice_f0(v, 60).ratio == pytest.approx(2.0)


def test_inharmonic_and_fixed_voices_are_flagged():
    v = sine()
    v.op[2].coarse, v.op[2].fine, v.op[2].output_level = 1, 41, 70  # 1 : 1.41
    f = dx7live.voice_f0(v, 60)
    assert f.kind == "inharmonic" and f.confidence < 1
    assert f.ratio == pytest.approx(1.0)  # the carrier's own frequency is reported

    fixed = sine()
    fixed.op[1].mode = "fixed"
    fixed.op[1].coarse, fixed.op[1].fine = 2, 0  # 100 Hz whatever the key
    f = dx7live.voice_f0(fixed, 90)
    assert f.kind == "fixed" and f.f0_hz == pytest.approx(100.0) and f.confidence < 1
    audio = dx7live.render_batch(fixed, 90, 100, 1.0, 1.0, SR)[0][SR // 5:]
    peak = spectrum_peaks(audio, SR, -3)[0]
    assert peak == pytest.approx(100.0, rel=0.01)

    silent = sine()
    silent.op[1].output_level = 0
    assert dx7live.voice_f0(silent, 60).kind == "silent"


def test_f0_includes_the_pitch_eg_sustain_level():
    v = sine()
    v.pitch_eg_l1 = v.pitch_eg_l2 = v.pitch_eg_l3 = 62  # table 140: +12/32 octave while held
    f = dx7live.voice_f0(v, 69)
    assert f.f0_hz == pytest.approx(440 * 2 ** (12 / 32))
    audio = dx7live.render_batch(v, 69, 100, 1.0, 1.0, SR)[0][SR // 2:]
    peak = spectrum_peaks(audio, SR, -3)[0]
    assert 1200 * abs(math.log2(peak / f.f0_hz)) < 15


def test_f0_curve_follows_the_engines_pitch_annotation():
    """With vibrato, the annotated f0 curve moves, and its mean matches the audio's pitch."""
    v = sine(coarse=0)
    v.lfo_pitch_mod_depth, v.pitch_mod_sensitivity, v.lfo_speed, v.lfo_wave = 60, 5, 20, 4
    ds = dx7live.DX7Dataset([v], notes=[69], velocities=[100], duration=1.0, note_duration=1.0, sample_rate=SR)
    item = ds[0]
    curve = item["f0_curve"].numpy()
    assert curve.shape == (250,)
    assert curve.max() / curve.min() > 2 ** (50 / 1200)  # vibrato of more than 50 cents
    assert float(np.mean(curve)) == pytest.approx(220.0, rel=0.03)
    assert item["f0_hz"].item() == pytest.approx(220.0)


def test_loudness_curve_tracks_the_audio_level():
    ds = dx7live.DX7Dataset([sine()], notes=[60], velocities=[100], duration=2.0, note_duration=1.0,
                            sample_rate=SR)
    item = ds[0]
    loud = item["loudness_curve"].numpy()
    audio = item["audio"].numpy()
    frame = SR // 250
    for k in (50, 150, 240):  # held, releasing, late release
        seg = audio[k * frame:(k + 1) * frame]
        peak_db = 20 * np.log10(np.max(np.abs(seg)) + 1e-12)
        assert abs(peak_db - loud[k]) < 3.0 or (peak_db < -100 and loud[k] < -90)


def test_vectorised_masks():
    ratio = sine()
    fixed = sine()
    for n in range(1, 7):
        fixed.op[n].mode = "fixed"
    silent = sine()
    silent.op[1].output_level = 0
    vced = np.stack([np.frombuffer(v.to_vced(), np.uint8) for v in (ratio, fixed, silent)])
    assert list(all_ratio_mask(vced)) == [True, False, True]
    assert list(all_fixed_mask(vced)) == [False, True, False]
    assert list(audible_mask(vced)) == [True, True, False]


def test_voice_f0_rejects_bad_notes():
    with pytest.raises(ValueError, match="note"):
        dx7live.voice_f0(sine(), 128)
    with pytest.raises(ValueError, match="155"):
        fundamental(b"\x00" * 12)


def test_pitch_eg_or_vibrato_lowers_the_confidence():
    v = sine()
    assert not dx7live.voice_f0(v, 60).pitch_moves
    v.pitch_eg_l4 = 30  # the note starts 7.5 semitones below its held pitch
    f = dx7live.voice_f0(v, 60)
    assert f.pitch_moves and f.confidence == 0.75 and f.kind == "harmonic"
    w = sine()
    w.lfo_pitch_mod_depth, w.pitch_mod_sensitivity = 50, 6  # about 3.5 semitones of vibrato
    assert dx7live.voice_f0(w, 60).pitch_moves


def _harmonic_shares(audio: np.ndarray, f0: float) -> tuple[float, float]:
    """(share of spectral energy above f0/2 lying near a multiple of f0 - within 3 %, or the
    Hann window's main lobe at low f0 - and the share on odd multiples)."""
    spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / SR)
    keep = freqs > 0.5 * f0
    spec, freqs = spec[keep], freqs[keep]
    k = np.round(freqs / f0)
    lobe = 2.5 * SR / len(audio)
    near = (np.abs(freqs - k * f0) < np.maximum(0.03 * k * f0, lobe)) & (k >= 1)
    return spec[near].sum() / spec.sum(), spec[near & (k % 2 == 1)].sum() / spec.sum()


@pytest.mark.corpus
@pytest.mark.parametrize("note", [45, 69])
def test_f0_of_the_factory_voices_matches_their_spectra(corpus_dir, note):
    """Every confidently harmonic factory voice: the audio's energy sits on multiples of f0_hz, and
    odd multiples carry energy too (f0 is not an octave too low)."""
    from dx7live.offline.sources import load_patches

    vced = load_patches(sorted((corpus_dir / "factory").glob("rom*.syx"))).vced
    audio = dx7live.render_batch(vced, note, 100, 1.0, 1.0, SR)[:, SR // 4:]
    on, odd, n = 0, 0, 0
    for row, a in zip(vced, audio):
        f = dx7live.voice_f0(row, note)
        if f.kind != "harmonic" or f.confidence < 1 or np.max(np.abs(a)) < 1e-4:
            continue
        share, odd_share = _harmonic_shares(a, f.f0_hz)
        n += 1
        on += share >= 0.9
        odd += odd_share >= 0.005
    assert n > 100  # most factory voices are confidently harmonic
    assert on >= 0.97 * n and odd >= 0.97 * n, (on, odd, n)


def test_f0_curve_matches_the_instantaneous_frequency_of_the_audio():
    """A sine with vibrato and a pitch-EG sweep: the f0 curve follows the audio's own
    instantaneous frequency (Hilbert phase slope) frame by frame."""
    from scipy.signal import hilbert

    sr = 48000
    v = sine()
    v.lfo_pitch_mod_depth, v.pitch_mod_sensitivity, v.lfo_speed, v.lfo_wave = 70, 4, 25, 4
    v.pitch_eg_rates = (40, 40, 40, 40)
    v.pitch_eg_levels = (60, 45, 50, 40)
    ds = dx7live.DX7Dataset([v], notes=[69], velocities=[100], duration=1.0, note_duration=1.0, sample_rate=sr)
    item = ds[0]
    audio, curve = item["audio"].numpy().astype(np.float64), item["f0_curve"].numpy()
    phase = np.unwrap(np.angle(hilbert(audio)))
    inst = np.diff(phase) * sr / (2 * np.pi)
    hop = sr // 250
    measured = np.array([np.median(inst[k * hop:(k + 1) * hop]) for k in range(len(curve))])
    core = slice(5, len(curve) - 5)  # away from the edges of the analytic signal
    err = 1200 * np.abs(np.log2(measured[core] / curve[core]))
    assert curve[core].max() / curve[core].min() > 2 ** (100 / 1200)  # the pitch really moves
    # the curve samples the pitch at each frame's start and the pitch moves within a frame (by up
    # to ~20 cents here), so allow that much; a constant f0 would be off by hundreds of cents
    assert np.median(err) < 10 and np.percentile(err, 95) < 40, (np.median(err), np.percentile(err, 95))
    flat = 1200 * np.abs(np.log2(measured[core] / item["f0_hz"].item()))
    assert np.median(flat) > 5 * np.median(err)
