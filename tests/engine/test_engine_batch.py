"""The batch renderer's annotations against the audio it returns (docs/architecture.md:
pitch_hz = a ratio-1.0 operator's frequency per frame, carrier_amp = summed carrier amplitude)."""
import math

import numpy as np

import support.dx7_reference as ref
from support.audio_analysis import f0_zero_crossings, rms
from support.engine_voices import set_op, set_voice, single_carrier, vced

SR = 48000


def batch(voices, notes, hold, total, **kw):
    from dx7live import _engine
    n = len(voices)
    return _engine.render_batch(np.array([list(vced(v)) for v in voices], np.uint8),
                                np.array(notes, np.int32), np.full(n, 100, np.int32),
                                np.full(n, hold, np.int64), total, float(SR), **kw)


def test_annotation_shapes():
    audio, pitch, amp = batch([single_carrier()] * 3, [48, 60, 72], 1000, 4801, annotate=True,
                              frame_rate=250.0)
    f = math.ceil(4801 * 250.0 / SR)
    assert audio.shape == (3, 4801) and pitch.shape == (3, f) and amp.shape == (3, f)
    assert pitch.dtype == np.float32 and amp.dtype == np.float32


def test_annotated_pitch_matches_the_audio():
    # a pitch-EG glide plus a transposition: the annotation must follow what is heard
    v = set_voice(single_carrier(), prates=(50, 99, 99, 99), plevels=(70, 70, 70, 50), transpose=30)
    audio, pitch, amp = batch([v], [57], SR, SR, annotate=True, frame_rate=100.0)
    x, p = audio[0], pitch[0]
    for k in (5, 20, 40, 80):
        seg = x[k * SR // 100:(k + 1) * SR // 100]
        heard = f0_zero_crossings(seg, SR)
        said = float(np.mean(p[k:k + 2]))
        assert abs(ref.cents(heard, said)) < 15, f"frame {k}: audio {heard:.2f} Hz, annotation {said:.2f} Hz"
    assert abs(ref.cents(float(p[-1]), ref.ratio_hz(57, transpose=30, peg=ref.PEG_LEVEL[70] << 7))) < 1.2


def test_annotated_carrier_amplitude_matches_the_audio():
    v = single_carrier()
    set_op(v, 1, rates=(99, 60, 99, 50), levels=(99, 70, 70, 0))
    audio, pitch, amp = batch([v], [69], SR // 2, SR, annotate=True, frame_rate=100.0)
    x, a = audio[0], amp[0]
    for k in (2, 10, 30, 60, 70):
        seg = x[k * SR // 100:(k + 1) * SR // 100]
        heard = rms(seg) * math.sqrt(2)
        said = float(np.mean(a[k:k + 2]))
        assert abs(20 * math.log10(heard / said)) < 1.0, f"frame {k}: audio peak {heard:.4f}, annotation {said:.4f}"


def test_annotated_carrier_amplitude_follows_a_deep_decay():
    # The annotation is the carrier level the audio has, down to the -90 dB floor: a rate-60 decay
    # (216 dB/s, §6.3) from full scale, compared per 10 ms frame where the audio lies between -40
    # and -85 dB (1 dB: the frame RMS vs the mean of the two frame-start values differ by < 0.2 dB
    # at 2 dB per frame); where the audio is silent the annotation must be below -85 dB too.
    v = single_carrier(ratio_coarse=4)
    set_op(v, 1, rates=(99, 60, 99, 99), levels=(99, 0, 0, 0))
    audio, pitch, amp = batch([v], [69], SR, SR // 2, annotate=True, frame_rate=100.0)
    x, a = audio[0], amp[0]
    bad = []
    for k in range(2, 48):
        heard_amp = rms(x[k * SR // 100:(k + 1) * SR // 100]) * math.sqrt(2)
        heard = 20 * math.log10(max(heard_amp, 1e-12) / 0.25)
        said = 20 * math.log10(max(float(np.mean(a[k:k + 2])), 1e-12) / 0.25)
        if -85 < heard < -40 and abs(heard - said) > 1.0:
            bad.append((k, round(heard, 1), round(said, 1)))
        if heard_amp == 0 and said > -85:
            bad.append((k, "silent", round(said, 1)))
    assert not bad, f"(frame, audio dB, annotation dB) that disagree: {bad}. (Engine bug seen at " \
                    "2988e6d: probe() sums the five output-level-0 carriers at their -90 dB floor, " \
                    "which the audio path skips as silent, so carrier_amp floors at -74 dB.)"
