"""Garbage in, bounded sound out: random voices (any byte values), random MIDI and sysex streams,
extreme settings (hypothesis). These also run under AddressSanitizer/UBSan (.ci/sanitize)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.engine_voices import init_voice

SR = 48000
# Bound: six carriers each at most 0.25 * 2^((4016 - 3840)/256) (OPLVL clamped at 4, §5.4) per voice.
VOICE_BOUND = 6 * 0.25 * 2 ** (176 / 256) * 1.01

garbage_voice = st.binary(min_size=155, max_size=155)
fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _synth(polyphony=16):
    import dx7live
    return dx7live.Synth(SR, polyphony)


def _native(polyphony=16):
    """The pybind11 engine itself (what the live host drives): takes any bytes, validates nothing
    in Python, so garbage reaches the C++ parsers."""
    from dx7live import _engine
    return _engine.Synth(float(SR), polyphony)


@fast
@given(voice=garbage_voice, note=st.integers(0, 127), velocity=st.integers(1, 127))
def test_garbage_voice_renders_bounded(voice, note, velocity):
    s = _synth()
    s.load_voice(voice)
    s.note_on(note, velocity)
    x = s.render(1024)
    s.note_off(note)
    y = s.render(1024)
    out = np.concatenate([x, y])
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out)), "non-finite sample from a garbage voice"
    assert np.max(np.abs(out)) <= VOICE_BOUND, f"one voice peaked at {np.max(np.abs(out)):.3f}"


@fast
@given(voice=st.binary(min_size=156, max_size=156))
def test_garbage_156_byte_voice(voice):
    s = _synth()
    s.load_voice(voice)
    for n in (0, 60, 127):
        s.note_on(n, 127)
    x = s.render(2048)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 3 * VOICE_BOUND


@fast
@given(voices=st.lists(garbage_voice, min_size=1, max_size=6), threads=st.integers(0, 3))
def test_garbage_voices_in_the_batch_renderer(voices, threads):
    from dx7live import _engine
    n = len(voices)
    arr = np.frombuffer(b"".join(voices), np.uint8).reshape(n, 155)
    audio = _engine.render_batch(arr, np.full(n, 60, np.int32), np.full(n, 100, np.int32),
                                 np.full(n, 500, np.int64), 1000, float(SR), threads=threads)
    assert audio.shape == (n, 1000)
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) <= VOICE_BOUND


midi_message = st.one_of(
    st.binary(min_size=0, max_size=4),
    st.tuples(st.integers(0x80, 0xEF), st.integers(0, 127), st.integers(0, 127)).map(bytes),
    st.tuples(st.sampled_from([0xB0, 0xB5]), st.sampled_from([1, 2, 4, 5, 6, 7, 64, 65, 96, 97, 120,
                                                              121, 123, 126, 127]),
              st.integers(0, 127)).map(bytes),
)


@fast
@given(events=st.lists(st.tuples(midi_message, st.integers(0, 3000)), max_size=40),
       voice=garbage_voice)
def test_random_midi_stream(events, voice):
    s = _native()
    s.load_voice(voice)
    for msg, offset in events:
        s.midi(msg, offset)
    x = s.render(2048)
    y = s.render(1024)
    out = np.concatenate([x, y])
    assert np.all(np.isfinite(out))
    assert np.max(np.abs(out)) <= 16 * VOICE_BOUND


@fast
@given(events=st.lists(midi_message, max_size=20))
def test_random_midi_through_python_layer(events):
    # the Python layer may refuse a malformed message, but only with a ValueError that says why
    s = _synth()
    s.load_voice(bytes(init_voice()))
    for msg in events:
        try:
            s.midi(msg)
        except ValueError as e:
            assert "midi" in str(e)
    assert np.all(np.isfinite(s.render(1024)))


sysex_body = st.binary(max_size=200)


@fast
@given(bodies=st.lists(sysex_body, max_size=6), prefix=st.sampled_from([b"", b"\xf0", b"\xf0\x43\x00",
                                                                         b"\xf0\x43\x10",
                                                                         b"\xf0\x43\x00\x00\x01\x1b",
                                                                         b"\xf0\x43\x00\x09\x20\x00"]),
       end=st.sampled_from([b"\xf7", b""]))
def test_random_sysex(bodies, prefix, end):
    s = _native()
    s.load_voice(bytes(init_voice()))
    s.note_on(60, 100, 0)
    for body in bodies:
        msg = prefix + body + end
        s.sysex(msg, 0)
        s.midi(msg, 0)
    x = s.render(2048)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 16 * VOICE_BOUND


@fast
@given(params=st.lists(st.tuples(st.integers(64, 77), st.integers(0, 255)), max_size=14),
       tune=st.integers(-256, 255), bend=st.integers(0, 16383), voice=garbage_voice)
def test_extreme_function_settings(params, tune, bend, voice):
    s = _synth()
    s.load_voice(voice)
    for p, v in params:
        try:
            s.set_function(p, v)
        except ValueError:
            pass                   # the Python layer may refuse out-of-range values - with a message
    s.set_master_tune(tune)
    s.pitch_bend(bend)
    for n in range(0, 128, 9):
        s.note_on(n, 127)
    x = s.render(2048)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 16 * VOICE_BOUND


def test_all_notes_all_voices_extremes():
    s = _synth()
    v = bytes([255] * 155)
    s.load_voice(v)
    for n in range(128):
        s.note_on(n, 127)
    x = s.render(4096)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 16 * VOICE_BOUND


@pytest.mark.parametrize("sr", [8000.0, 22050.0, 192000.0])
def test_unusual_sample_rates(sr):
    import dx7live
    s = dx7live.Synth(sr, 16)
    s.load_voice(bytes(init_voice()))
    s.note_on(127, 127)
    s.note_on(0, 127)
    x = s.render(4096)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 2 * VOICE_BOUND


def test_python_layer_rejects_bad_arguments_with_value_error():
    import dx7live
    s = dx7live.Synth(48000, 16)
    for bad in (lambda: s.load_voice(b"\x00" * 10), lambda: s.note_on(128, 100),
                lambda: s.note_on(60, 128), lambda: s.pitch_bend(16384), lambda: s.render(-1),
                lambda: dx7live.Synth(0, 16), lambda: dx7live.Synth(48000, 0),
                lambda: s.set_master_tune(1000)):
        with pytest.raises(ValueError):
            bad()


@fast
@given(n=st.integers(1, 4), data=st.data())
def test_batch_renderer_with_odd_arguments(n, data):
    # out-of-range notes/velocities/hold frames: a clear ValueError or bounded audio, never a crash
    from dx7live import _engine
    voices = np.frombuffer(data.draw(st.binary(min_size=155 * n, max_size=155 * n)), np.uint8).reshape(n, 155)
    ints = st.integers(-(2 ** 31), 2 ** 31 - 1)
    notes = np.array(data.draw(st.lists(st.one_of(st.integers(-5, 140), ints), min_size=n, max_size=n)), np.int32)
    vels = np.array(data.draw(st.lists(st.one_of(st.integers(-5, 140), ints), min_size=n, max_size=n)), np.int32)
    hold = np.array(data.draw(st.lists(st.integers(-10, 3000), min_size=n, max_size=n)), np.int64)
    total = data.draw(st.integers(0, 1500))
    sr = data.draw(st.sampled_from([8000.0, 44100.0, 192000.0]))
    try:
        audio, pitch, amp = _engine.render_batch(voices, notes, vels, hold, total, sr, annotate=True,
                                                 frame_rate=data.draw(st.sampled_from([1.0, 250.0, 8000.0])))
    except ValueError as e:
        assert str(e)
        return
    assert audio.shape == (n, total)
    assert np.all(np.isfinite(audio)) and np.all(np.isfinite(pitch)) and np.all(np.isfinite(amp))
    assert total == 0 or np.max(np.abs(audio)) <= VOICE_BOUND


def test_event_flood_is_bounded_and_counted():
    # the engine's documented limit: a 4096-event queue; beyond it events are dropped and counted,
    # never allocated (render/event calls must not allocate) and never crash.
    s = _native()
    s.load_voice(bytes(init_voice()))
    for i in range(20000):
        s.note_on(i % 128, 100, i % 5000)
        s.control_change(1, i % 128, i % 5000)
    x = s.render(6000)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 16 * VOICE_BOUND
    assert s.dropped_events > 0
    for _ in range(3):                     # and it recovers: later events are accepted again
        s.render(100)
    s.note_off(0, 0)
    assert np.all(np.isfinite(s.render(256)))
