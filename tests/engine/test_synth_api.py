"""The engine's Python API: argument validation, offsets, determinism, pickling, batch rendering,
and the basic sound facts every other part relies on (pitch, output scale, polyphony)."""
from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dx7live
from dx7live import _engine
from dx7live import _engine
from dx7live.engine.synth import Synth, render_note

SR = 48000


def init_voice(**changes) -> bytearray:
    """INIT VOICE-like VCED: algorithm 1, OP1 carrier at OL 99 (others OL 0), ratio 1."""
    v = bytearray(155)
    for o in range(6):
        b = 21 * o
        v[b:b + 4] = bytes([99, 99, 99, 99])
        v[b + 4:b + 8] = bytes([99, 99, 99, 0])
        v[b + 8] = 39
        v[b + 18] = 1
        v[b + 20] = 7
    v[21 * 5 + 16] = 99  # OP1 output level
    v[126:130] = bytes([99] * 4)
    v[130:134] = bytes([50] * 4)
    v[144] = 24
    v[145:155] = b"TEST VOICE"
    for k, val in changes.items():
        v[int(k)] = val
    return v


def peak_hz(x: np.ndarray, sr: float) -> float:
    x = x.astype(np.float64) * np.hanning(len(x))
    n = 16 * len(x)
    spec = np.abs(np.fft.rfft(x, n))
    return spec.argmax() * sr / n


# ------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs", [dict(sample_rate=7999), dict(sample_rate=192001), dict(sample_rate="48000"),
                                    dict(polyphony=0), dict(polyphony=65), dict(polyphony=2.5)])
def test_constructor_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        Synth(**kwargs)


def test_event_arguments_are_validated():
    s = Synth(SR)
    bad = [
        lambda: s.note_on(128, 100), lambda: s.note_on(60, 128), lambda: s.note_on(60, 100, offset=-1),
        lambda: s.note_off(-1), lambda: s.control_change(128, 0), lambda: s.control_change(1, 200),
        lambda: s.pitch_bend(16384), lambda: s.channel_pressure(-1), lambda: s.set_function(63, 0),
        lambda: s.set_function(65, 13), lambda: s.set_function("no_such", 1), lambda: s.set_master_tune(256),
        lambda: s.set_channel(16), lambda: s.load_voice(bytes(154)), lambda: s.load_voice([0] * 154 + [256]),
        lambda: s.sysex(b"\x43\x00"), lambda: s.midi(b""), lambda: s.midi(b"\x3c\x40"),
        lambda: s.render(-1), lambda: s.render_into(np.zeros(10, np.float64)), lambda: s.reset(-1),
        lambda: s.note_on(True, 100),
    ]
    for i, call in enumerate(bad):
        with pytest.raises(ValueError):
            call()


def test_error_messages_name_the_argument():
    s = Synth(SR)
    with pytest.raises(ValueError, match="velocity"):
        s.note_on(60, 300)
    with pytest.raises(ValueError, match="155 or 156"):
        s.load_voice(b"\x00" * 10)


def test_accepts_voice_objects_bytes_arrays_and_lists():
    v = init_voice()

    class FakeVoice:
        def to_vced(self):
            return bytes(v)

    outs = []
    for voice in (bytes(v), list(v), np.frombuffer(bytes(v), np.uint8), FakeVoice(), bytes(v) + b"\x3f"):
        s = Synth(SR)
        s.load_voice(voice)
        s.note_on(60, 100)
        outs.append(s.render(2000))
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])


# ------------------------------------------------------------------------------- basic sound

def test_render_shape_dtype_and_output_scale():
    s = Synth(SR)
    s.load_voice(init_voice())
    s.note_on(69, 100)
    a = s.render(SR)
    assert a.dtype == np.float32 and a.shape == (SR,)
    # one carrier at L99/OL99 and velocity ~100: level 3840 -> peak 0.25 (docs/architecture.md)
    assert 0.24 < np.abs(a[SR // 2:]).max() <= 0.2501


@pytest.mark.parametrize("sr", [8000, 44100, 48000, 96000, 192000])
def test_a4_is_439_97_hz_at_every_sample_rate(sr):
    a = render_note(init_voice(), note=69, velocity=100, note_duration=2.0, duration=2.0, sample_rate=sr)
    f = peak_hz(a[sr // 2:], sr)
    assert abs(f - 439.97) < 0.1


def test_silence_before_the_first_note_and_after_release():
    s = Synth(SR)
    s.load_voice(init_voice())
    assert not s.render(1000).any()
    s.note_on(60, 100)
    s.note_off(60, offset=4800)
    a = s.render(SR)
    assert np.abs(a[:4800]).max() > 0.2
    assert np.abs(a[-1000:]).max() < 1e-4
    assert s.active_voices() == 0


def test_note_on_offset_is_sample_accurate_and_carries_over_calls():
    s = Synth(SR)
    s.load_voice(init_voice())
    s.note_on(60, 100, offset=1500)
    a = s.render(1000)
    b = s.render(1000)
    assert not a.any()
    assert not b[:500].any()
    assert np.abs(b[500:]).max() > 0.01


def test_render_split_does_not_change_output():
    def run(chunks):
        s = Synth(SR)
        s.load_voice(init_voice(**{"134": 4, "135": 7, str(21 * 4 + 16): 80, str(21 * 3 + 16): 70}))
        s.note_on(60, 90, offset=10)
        s.note_on(64, 60, offset=333)
        s.note_off(60, offset=9000)
        out = []
        for n in chunks:
            out.append(s.render(n))
        return np.concatenate(out)

    whole = run([20000])
    split = run([1, 7, 64, 100, 129, 3000, 16699])
    assert np.array_equal(whole, split)


def test_render_into_matches_render():
    a, b = Synth(SR), Synth(SR)
    for s in (a, b):
        s.load_voice(init_voice())
        s.note_on(60, 100)
    x = a.render(3000)
    y = np.empty(3000, np.float32)
    b.render_into(y)
    assert np.array_equal(x, y)


def test_deterministic_across_instances_and_reset():
    def run(s):
        s.load_voice(init_voice(**{"142": 5, "139": 99, "143": 7, "137": 90}))  # S&H vibrato
        s.reset(7)
        s.note_on(60, 100)
        return s.render(SR // 2)

    a = run(Synth(SR))
    s = Synth(SR)
    s.note_on(72, 127)
    s.render(5000)  # history must not matter after reset
    b = run(s)
    assert np.array_equal(a, b)


def test_sixteen_voices_then_the_seventeenth_held_note_is_ignored():
    s = Synth(SR, polyphony=16)
    s.load_voice(init_voice())
    for n in range(40, 57):
        s.note_on(n, 100)
    s.render(256)
    assert s.active_voices() == 16
    assert s._s.ignored_notes == 1


def test_polyphony_64_plays_64_notes():
    s = Synth(SR, polyphony=64)
    s.load_voice(init_voice())
    for n in range(20, 84):
        s.note_on(n, 100)
    a = s.render(2048)
    assert s.active_voices() == 64
    assert np.isfinite(a).all()


def test_all_sound_off_and_all_notes_off():
    s = Synth(SR)
    s.load_voice(init_voice())
    s.note_on(60, 100)
    s.note_on(64, 100)
    s.render(1000)
    s.control_change(120, 0)
    a = s.render(100)
    assert np.abs(a).max() < 1e-3
    s.note_on(60, 100)
    s.render(1000)
    s.control_change(123, 0)
    s.render(SR // 2)
    assert s.active_voices() == 0


def test_sustain_pedal_holds_released_notes():
    s = Synth(SR)
    s.load_voice(init_voice())
    s.control_change(64, 127)
    s.note_on(60, 100)
    s.note_off(60, offset=100)
    s.render(SR // 2)
    assert s.active_voices() == 1
    s.control_change(64, 0)
    s.render(SR // 2)
    assert s.active_voices() == 0


# ------------------------------------------------------------------------------- sysex / MIDI

def test_single_voice_sysex_dump_loads_the_voice():
    v = init_voice(**{"134": 17, "137": 55})
    cs = (-sum(v)) & 0x7F
    msg = bytes([0xF0, 0x43, 0x00, 0x00, 0x01, 0x1B]) + bytes(v) + bytes([cs, 0xF7])
    s = Synth(SR)
    s.sysex(msg)
    s.render(1)
    assert s.voice_data()[:155] == bytes(v)


def test_function_parameter_change_decodes_the_group_byte():
    s = Synth(SR)
    s.sysex(bytes([0xF0, 0x43, 0x10, 0x08, 65, 7, 0xF7]))  # group 2, param 65 (bend range) = 7
    s.render(1)
    assert s.function(65) == 7
    # Dexed's bug would have written voice byte 65 instead; the voice must be unchanged
    assert s.voice_data()[65] == Synth(SR).voice_data()[65]


def test_voice_parameter_change_above_127():
    s = Synth(SR)
    s.sysex(bytes([0xF0, 0x43, 0x10, 0x01, 134 - 128, 21, 0xF7]))  # algorithm = 22
    s.render(1)
    assert s.voice_data()[134] == 21


def test_midi_messages_and_channel_filter():
    s = Synth(SR)
    s.load_voice(init_voice())
    s.set_channel(3)
    s.midi(bytes([0x90, 60, 100]))  # channel 1: filtered
    assert not s.render(2000).any()
    s.midi(bytes([0x93, 60, 100]))
    assert np.abs(s.render(2000)).max() > 0.1
    s.midi(bytes([0x93, 60, 0]))  # velocity 0 = note off
    s.render(SR // 2)
    assert s.active_voices() == 0


# ------------------------------------------------------------------------------- robustness

@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=155, max_size=155), st.integers(0, 127), st.integers(1, 127))
def test_any_155_bytes_are_safe(data, note, velocity):
    s = Synth(SR)
    s.load_voice(data)
    s.note_on(note, velocity)
    s.note_off(note, offset=2000)
    a = s.render(4000)
    assert np.isfinite(a).all()
    assert np.abs(a).max() < 6 * 0.25 * 1.7  # at most six carriers at the loudest operator level
    tiny = (a != 0) & (np.abs(a) < np.finfo(np.float32).tiny)
    assert not tiny.any()  # no denormals


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=200), max_size=8))
def test_garbage_midi_and_sysex_never_crash(messages):
    s = Synth(SR)
    for m in messages:
        if m[0] >= 0x80:
            s.midi(m)
        else:
            s.sysex(b"\xf0" + m)
    assert np.isfinite(s.render(512)).all()


# ------------------------------------------------------------------------------- pickling, threads

def test_pickle_round_trip_keeps_configuration():
    s = Synth(44100, polyphony=8)
    s.load_voice(init_voice(**{"134": 9}))
    s.set_function(65, 12)
    s.set_master_tune(-100)
    s.set_channel(5)
    t = pickle.loads(pickle.dumps(s))
    assert (t.sample_rate, t.polyphony, t.master_tune, t.channel) == (44100, 8, -100, 5)
    assert t.function(65) == 12 and t.voice_data() == s.voice_data()
    s.reset(0)
    for x in (s, t):
        x.note_on(60, 100)
    assert np.array_equal(s.render(3000), t.render(3000))


def test_one_synth_per_thread_gives_the_same_result():
    def work(out, i):
        s = Synth(SR)
        s.load_voice(init_voice(**{"135": 7}))
        s.note_on(48 + i, 100)
        out[i] = s.render(SR // 4)

    seq = {}
    for i in range(4):
        work(seq, i)
    par = {}
    threads = [threading.Thread(target=work, args=(par, i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert np.array_equal(seq[i], par[i])


# ------------------------------------------------------------------------------- render_note / batch

def test_render_note_matches_a_synth_rendering():
    v = init_voice(**{"135": 5, "136": 0})
    a = render_note(v, note=57, velocity=80, note_duration=0.25, duration=0.5, sample_rate=SR, seed=3)
    s = Synth(SR)
    s.load_voice(v)
    s.reset(3)
    s.note_on(57, 80)
    s.note_off(57, offset=SR // 4)
    assert np.array_equal(a, s.render(SR // 2))


def test_render_batch_is_thread_count_independent_and_annotates():
    rng = np.random.default_rng(1)
    voices = np.stack([np.frombuffer(bytes(init_voice(**{"134": i, "135": i % 8})), np.uint8) for i in range(6)])
    notes = rng.integers(36, 90, 6).astype(np.int32)
    vel = np.full(6, 100, np.int32)
    hold = np.full(6, 4000, np.int64)
    one = render_batch_raw(voices, notes, vel, hold, 8000, SR, threads=1)
    many = render_batch_raw(voices, notes, vel, hold, 8000, SR, threads=3)
    assert one.shape == (6, 8000) and one.dtype == np.float32
    assert np.array_equal(one, many)
    audio, pitch, amp = render_batch_raw(voices, notes, vel, hold, 8000, SR, annotate=True)
    assert np.array_equal(audio, one)
    assert pitch.shape == amp.shape == (6, int(np.ceil(8000 * 250 / SR)))
    expected = 439.97 * 2 ** ((notes - 69) / 12)
    assert np.allclose(pitch[:, 5], expected, rtol=0.005)
    assert (amp[:, 5] > 0.1).all() and (amp[:, -1] < amp[:, 5]).all()


def test_engine_version_is_exposed():
    assert isinstance(dx7live.ENGINE_VERSION, str) and dx7live.ENGINE_VERSION == _engine.ENGINE_VERSION


# ------------------------------------------------------------------------------- more API

def test_function_parameters_by_number_and_name():
    s = Synth(SR)
    s.set_function("pitch_bend_range", 9)
    s.set_function(69, 40)
    assert s.function(65) == 9 and s.function(69) == 40
    # CC5 sets the portamento time through the firmware's scaling (data * 2 * 100) >> 8
    s.control_change(5, 127)
    s.render(1)
    assert s.function(69) == (127 * 2 * 100) >> 8


def test_render_batch_rejects_bad_shapes():
    v = np.zeros((2, 155), np.uint8)
    ok = dict(notes=np.array([60, 60], np.int32), velocities=np.array([100, 100], np.int32),
              hold_frames=np.array([10, 10], np.int64))
    with pytest.raises(ValueError, match="voices"):
        _engine.render_batch(np.zeros((2, 154), np.uint8), ok["notes"], ok["velocities"], ok["hold_frames"], 100, SR)
    with pytest.raises(ValueError, match="notes"):
        _engine.render_batch(v, np.array([60], np.int32), ok["velocities"], ok["hold_frames"], 100, SR)
    with pytest.raises(ValueError, match="sample_rate"):
        _engine.render_batch(v, ok["notes"], ok["velocities"], ok["hold_frames"], 100, 1000.0)
    with pytest.raises(ValueError, match="seeds"):
        _engine.render_batch(v, ok["notes"], ok["velocities"], ok["hold_frames"], 100, SR, seeds=np.zeros(3, np.uint64))
    empty = _engine.render_batch(np.zeros((0, 155), np.uint8), np.zeros(0, np.int32), np.zeros(0, np.int32),
                                 np.zeros(0, np.int64), 100, SR)
    assert empty.shape == (0, 100)


def test_seeds_change_free_running_phases_only():
    v = init_voice(**{"136": 0})  # oscillator key sync off: the start phase comes from the seed
    a = render_note(v, note=60, duration=0.1, note_duration=0.1, seed=1)
    b = render_note(v, note=60, duration=0.1, note_duration=0.1, seed=2)
    c = render_note(v, note=60, duration=0.1, note_duration=0.1, seed=1)
    assert np.array_equal(a, c) and not np.array_equal(a, b)
    assert abs(np.abs(a).max() - np.abs(b).max()) < 0.01
    synced = init_voice(**{"136": 1})
    assert np.array_equal(render_note(synced, seed=1, duration=0.1), render_note(synced, seed=2, duration=0.1))


def test_released_voice_that_fell_silent_is_no_longer_active():
    # L3 = L4 = 0 with a slow release: once the carrier is at the floor the voice stops counting
    v = init_voice(**{str(21 * 5 + 1): 70, str(21 * 5 + 5): 0, str(21 * 5 + 6): 0, str(21 * 5 + 3): 0})
    s = Synth(SR)
    s.load_voice(v)
    s.note_on(60, 100)
    s.render(SR // 2)  # the rate-70 decay (0.16 s) has reached the floor; the key is still down
    assert s.active_voices() == 1
    s.note_off(60)     # R4 = 0 toward L4 = 0: a 40 s "static" hold at the floor, silent throughout
    s.render(SR // 10)
    assert s.active_voices() == 0


def test_event_queue_overflow_drops_events_without_crashing():
    s = Synth(SR)
    s.load_voice(init_voice())
    for i in range(5000):
        s.control_change(1, i % 128, offset=i)
    assert s._s.dropped_events > 0
    assert np.isfinite(s.render(6000)).all()


def test_loads_a_voice_from_the_factory_bank(corpus_dir):
    from dx7live.patch.reader import load

    bank = load(corpus_dir / "factory" / "rom1a.syx")
    s = Synth(SR)
    s.load_voice(bank[0])
    assert s.voice_data()[:155] == bank[0].to_vced()
    s.note_on(60, 100)
    assert np.abs(s.render(SR // 4)).max() > 0.05


@settings(max_examples=25, deadline=None)
@given(
    st.binary(min_size=155, max_size=155),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 127), st.integers(0, 127), st.integers(0, 6000)),
             max_size=12),
    st.lists(st.integers(1, 3000), min_size=1, max_size=6),
    st.sampled_from([8000, 44100, 48000, 96000]),
)
def test_any_split_of_a_rendering_is_bit_identical(data, events, splits, sr):
    """Events all queued up front (offsets carry over), rendered in one call or in pieces."""
    total = 6000

    def run(chunks):
        s = Synth(sr, polyphony=4)
        s.load_voice(data)
        for kind, a, b, off in events:
            if kind == 0:
                s.note_on(a, b, offset=off)
            elif kind == 1:
                s.note_off(a, offset=off)
            elif kind == 2:
                s.control_change(a, b, offset=off)
            elif kind == 3:
                s.pitch_bend(a * 128 + b, offset=off)
            elif kind == 4:
                s.channel_pressure(b, offset=off)
            else:
                s.control_change(64, b, offset=off)
        out = []
        done = 0
        for n in chunks:
            n = min(n, total - done)
            if n <= 0:
                break
            out.append(s.render(n))
            done += n
        if done < total:
            out.append(s.render(total - done))
        return np.concatenate(out)

    whole = run([total])
    assert np.array_equal(whole, run(splits))


def test_performance_block_sysex_sets_function_parameters():
    # §1.3 format 1 (94 bytes): 3 = bend range, 9/10 = mod-wheel sensitivity (0..15 -> 0..99) / assign
    block = bytearray(94)
    block[3] = 7
    block[9], block[10] = 15, 2
    cs = (-sum(block)) & 0x7F
    s = Synth(SR)
    s.sysex(bytes([0xF0, 0x43, 0x00, 0x01, 0x00, 0x5E]) + bytes(block) + bytes([cs, 0xF7]))
    s.render(1)
    assert s.function(65) == 7
    assert s.function(70) == (15 * 212 * 8) >> 8 and s.function(71) == 2


# the native batch renderer with only dtype coercion (tests call it directly)
def render_batch_raw(
    voices: np.ndarray,
    notes: np.ndarray,
    velocities: np.ndarray,
    hold_frames: np.ndarray,
    total_frames: int,
    sample_rate: float,
    seeds: "np.ndarray | None" = None,
    threads: int = 0,
    annotate: bool = False,
    frame_rate: float = 250.0,
):
    """Thin pass-through to the native batch renderer (see docs/architecture.md, render_batch)."""
    return _engine.render_batch(
        np.ascontiguousarray(voices, dtype=np.uint8),
        np.ascontiguousarray(notes, dtype=np.int32),
        np.ascontiguousarray(velocities, dtype=np.int32),
        np.ascontiguousarray(hold_frames, dtype=np.int64),
        int(total_frames),
        float(sample_rate),
        seeds=None if seeds is None else np.ascontiguousarray(seeds, dtype=np.uint64),
        threads=int(threads),
        annotate=bool(annotate),
        frame_rate=float(frame_rate),
    )
