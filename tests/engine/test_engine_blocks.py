"""Block structure of the engine (docs/architecture.md, "blocks and ticks").

Blocks end at the 372.27 Hz tick only when the tick can change the sound (LFO routed to pitch or
amplitude, a moving pitch EG or portamento, pitch bend not yet applied, active sensing). Otherwise
the ticks run after their frame without ending the block: the engine checks every such late tick
and counts any that did change what the block renders (``stale_ticks``), which must stay 0 whatever
the voice, the MIDI stream and the render call sizes. The batch renderer's annotations are taken
inside the render, without splitting it; they must equal probes taken by stopping there."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.engine_voices import set_op, set_voice, single_carrier, vced

SR = 16000.0
fast = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Messages that move what ticks compute: notes, the four modulation sources, bend, sustain,
# portamento, mono/poly, volume, active sensing, and function-parameter sysex (wheel/foot/breath/
# aftertouch range and assignment, bend range/step, portamento) for channel 1.
message = st.one_of(
    st.tuples(st.sampled_from([0x90, 0x80]), st.integers(30, 90), st.integers(1, 127)).map(bytes),
    st.tuples(st.just(0xB0), st.sampled_from([1, 2, 4, 5, 7, 64, 65, 126, 127]), st.integers(0, 127)).map(bytes),
    st.tuples(st.just(0xE0), st.integers(0, 127), st.integers(0, 127)).map(bytes),
    st.tuples(st.just(0xD0), st.integers(0, 127)).map(bytes),
    st.just(b"\xfe"),
    st.tuples(st.integers(64, 77), st.integers(0, 99)).map(
        lambda pv: bytes([0xF0, 0x43, 0x10, 0x08, pv[0], pv[1], 0xF7])),
)
# Valid voices with the LFO and pitch EG switched on or off, so both kinds of block occur.
voice_spec = st.fixed_dictionaries({
    "pmd": st.sampled_from([0, 0, 30]), "amd": st.sampled_from([0, 0, 40]),
    "pms": st.integers(0, 7), "ams": st.integers(0, 3),
    "plevels": st.sampled_from([(50, 50, 50, 50), (60, 40, 50, 50), (50, 50, 50, 70)]),
    "algorithm": st.integers(1, 32), "feedback": st.integers(0, 7),
    "lfo_wave": st.integers(0, 5), "lfo_delay": st.sampled_from([0, 40]),
})


def make_voice(spec: dict) -> bytes:
    v = single_carrier()
    set_voice(v, pmd=spec["pmd"], amd=spec["amd"], pms=spec["pms"], plevels=spec["plevels"], prates=(70, 70, 70, 70),
              algorithm=spec["algorithm"], feedback=spec["feedback"], lfo_wave=spec["lfo_wave"],
              lfo_delay=spec["lfo_delay"])
    for op in range(1, 7):
        set_op(v, op, ams=spec["ams"], ol=80, rates=(90, 40, 30, 60), levels=(99, 80, 60, 0))
    return bytes(vced(v))


@fast
@given(spec=voice_spec,
       events=st.lists(st.tuples(message, st.integers(0, 4000)), max_size=30),
       chunks=st.lists(st.integers(1, 700), min_size=4, max_size=12),
       between=st.lists(st.tuples(st.integers(64, 77), st.integers(0, 99)), max_size=3))
def test_late_ticks_never_change_the_sound(spec, events, chunks, between):
    from dx7live import _engine
    s = _engine.Synth(SR, 16)
    s.load_voice(make_voice(spec))
    s.midi(bytes([0x90, 60, 100]), 0)
    for msg, offset in events:
        s.midi(msg, offset)
    for i, n in enumerate(chunks):
        x = s.render(n)
        assert np.all(np.isfinite(x))
        if i < len(between):       # direct calls between render calls, as the live host makes them
            s.set_function(*between[i])
            s.set_master_tune(between[i][1] - 50)
    assert s.stale_ticks == 0


def _probes_by_stopping(voice: bytes, note: int, hold: int, total: int, frame_rate: float, seed: int):
    """The annotation the slow way: render up to each annotation frame, then probe()."""
    from dx7live import _engine
    s = _engine.Synth(SR, 1)
    s.reset(seed)
    s.load_voice(voice)
    s.midi(bytes([0x90, note, 100]), 0)
    frames = int(np.ceil(total * frame_rate / SR))
    pitch, amp = np.zeros(frames, np.float32), np.zeros(frames, np.float32)
    audio = []
    pos = 0
    off = False
    for k in range(frames):
        t = min(int(np.ceil(k * SR / frame_rate)), total)
        while pos < t:
            n = t - pos
            if not off and hold < total and hold < pos + n:
                s.midi(bytes([0x80, note, 0]), hold - pos)
                off = True
            audio.append(s.render(n))
            pos += n
        if not off and hold == pos and hold < total:
            s.midi(bytes([0x80, note, 0]), 0)
            off = True
        p, a = s.probe()
        pitch[k], amp[k] = p, a
    if pos < total:
        if not off and hold < total:
            s.midi(bytes([0x80, note, 0]), hold - pos)
        audio.append(s.render(total - pos))
    return np.concatenate(audio), pitch, amp


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=voice_spec, note=st.integers(30, 90), hold=st.integers(0, 9000),
       frame_rate=st.sampled_from([250.0, 100.0, 333.0, 16000.0 / 64]))
def test_batch_annotations_equal_probes_taken_by_stopping(spec, note, hold, frame_rate):
    from dx7live import _engine
    voice = make_voice(spec)
    total = 8001
    seed = 7
    audio, pitch, amp = _engine.render_batch(
        np.frombuffer(voice, np.uint8)[None, :], np.array([note], np.int32), np.array([100], np.int32),
        np.array([hold], np.int64), total, SR, seeds=np.array([seed], np.uint64), threads=1,
        annotate=True, frame_rate=frame_rate)
    ref_audio, ref_pitch, ref_amp = _probes_by_stopping(voice, note, hold, total, frame_rate, seed)
    np.testing.assert_array_equal(pitch[0], ref_pitch)
    np.testing.assert_array_equal(amp[0], ref_amp)
    np.testing.assert_array_equal(audio[0], ref_audio)


def test_render_batch_renders_into_out():
    from dx7live import _engine
    voice = np.frombuffer(bytes(vced(single_carrier())), np.uint8)[None, :].repeat(3, axis=0)
    args = (voice, np.array([48, 60, 72], np.int32), np.full(3, 100, np.int32), np.full(3, 800, np.int64), 1600, SR)
    want = _engine.render_batch(*args)
    out = np.full((3, 1600), np.nan, np.float32)
    got = _engine.render_batch(*args, out=out)
    assert np.shares_memory(got, out)
    np.testing.assert_array_equal(out, want)
    for bad in (np.zeros((3, 1600), np.float64), np.zeros((2, 1600), np.float32), np.zeros((3, 1599), np.float32),
                np.zeros((1600, 3), np.float32).T, [[0.0] * 1600] * 3):
        try:
            _engine.render_batch(*args, out=bad)
        except ValueError as e:
            assert "out must be" in str(e)
        else:
            raise AssertionError(f"render_batch accepted out={type(bad).__name__} {getattr(bad, 'shape', '')}")
    ro = np.zeros((3, 1600), np.float32)
    ro.flags.writeable = False
    try:
        _engine.render_batch(*args, out=ro)
    except ValueError as e:
        assert "writable" in str(e)
    else:
        raise AssertionError("render_batch wrote into a read-only array")
