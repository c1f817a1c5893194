"""The batch renderer's annotations against the audio it returns (docs/architecture.md:
pitch_hz = a ratio-1.0 operator's frequency per frame, carrier_amp = summed carrier amplitude)."""
import math

import numpy as np

import dx7_reference as ref
from audio_analysis import f0_zero_crossings, rms
from engine_voices import set_op, set_voice, single_carrier, vced

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
