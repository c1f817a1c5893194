"""The native live host (dx7live._live.Host), driven through its PortAudio callback without a device.

``Host.process`` calls the very function PortAudio calls (``dx7live_stream_callback``) with a
time-info block we choose, so the queue, the stamp -> frame scheduling, the recording rings and
the statistics are tested exactly as they run live.
"""
from __future__ import annotations

import numpy as np
import pytest

_live = pytest.importorskip("dx7live._live", reason="the native live module is not built")
from support.jacktest import cents, sine_voice, strongest_partials  # noqa: E402

RATE = 48000.0


def make_host(channels=2, **kw):
    h = _live.Host(RATE, 16, channels, **kw)
    h.push_voice(sine_voice("SINE 1", 1), 0.0)
    h.schedule_latency = 0.0
    return h


def first_sound(x, threshold=1e-3):
    idx = np.flatnonzero(np.abs(x) > threshold)
    return int(idx[0]) if len(idx) else None


def test_callback_address_and_userdata_are_pointers():
    h = make_host()
    assert _live.CALLBACK_ADDRESS > 0 and h.userdata() > 0


def test_immediate_note_renders_the_voice_pitch_on_every_channel():
    h = make_host(channels=2)
    h.push_midi(bytes([0x90, 69, 100]), 0.0)
    out = h.process(8192)
    assert out.shape == (8192, 2)
    assert np.array_equal(out[:, 0], out[:, 1])
    f = strongest_partials(out[2048:, 0], RATE)[0]
    assert abs(cents(f, 440.0)) < 5
    st = h.status()
    assert st["events_applied"] == 2 and st["active_voices"] == 1


def test_voice_command_changes_the_sound():
    h = make_host(channels=1)
    h.push_voice(sine_voice("SINE 2", 2), 0.0)
    h.push_midi(bytes([0x90, 69, 100]), 0.0)
    out = h.process(8192)[:, 0]
    assert abs(cents(strongest_partials(out[2048:], RATE)[0], 880.0)) < 5


def test_stamped_event_sounds_at_its_scheduled_frame():
    h = make_host(channels=1)
    # output latency 5 ms reported by the host API; the event must sound schedule_latency after its stamp
    h.schedule_latency = 0.005 + 1000 / RATE
    h.push_midi(bytes([0x90, 69, 100]))  # stamped now
    out = h.process(2048, current_time=10.0, dac_time=10.005)[:, 0]
    on = first_sound(out)
    # a few frames pass between the stamp and the callback reading the clock
    assert on is not None and 990 <= on <= 1010, on
    assert h.status()["events_late"] == 0


def test_future_event_waits_for_its_buffer():
    h = make_host(channels=1)
    h.schedule_latency = 3 * 256 / RATE + 100 / RATE
    t = 1000.0
    h.push_midi(bytes([0x90, 69, 100]), t)
    silent = [h.process(256, clock=t + k * 256 / RATE)[:, 0] for k in range(3)]
    assert all(np.abs(b).max() == 0 for b in silent)
    assert h.status()["events_applied"] == 1  # only the voice load so far
    out = h.process(256, clock=t + 3 * 256 / RATE)[:, 0]
    on = first_sound(out)
    assert on is not None and 100 <= on <= 110 and h.status()["events_applied"] == 2


def test_late_event_is_applied_at_once_and_counted():
    h = make_host(channels=1)
    h.push_midi(bytes([0x90, 69, 100]), _live.now() - 0.5)
    out = h.process(512)[:, 0]
    assert first_sound(out) is not None and first_sound(out) < 16
    st = h.status()
    assert st["events_late"] == 1 and st["max_lateness_s"] >= 0.49


def test_events_in_time_order_keep_their_spacing():
    h = make_host(channels=1)
    h.schedule_latency = 0.01
    t = 500.0
    h.push_midi(bytes([0x90, 69, 100]), t)
    h.push_midi(bytes([0x80, 69, 0]), t + 2000 / RATE)
    out = np.concatenate([h.process(128, clock=t + k * 128 / RATE)[:, 0] for k in range(60)])
    on = first_sound(out)
    assert on is not None and abs(on - 480) <= 8  # 10 ms after the stamp
    # the release starts 2000 frames after the attack: the sound decays from there
    seg_after = np.abs(out[on + 2000 + 600: on + 2000 + 800]).max()
    seg_before = np.abs(out[on + 1700: on + 1990]).max()
    assert seg_after < 0.1 * seg_before


def test_panic_silences_held_notes():
    h = make_host(channels=1)
    for n in (60, 64, 67):
        h.push_midi(bytes([0x90, n, 100]), 0.0)
    h.push_midi(bytes([0xB0, 64, 127]), 0.0)  # sustain on
    assert np.abs(h.process(2048)).max() > 0.05
    h.push_panic()
    h.process(4800)
    assert np.abs(h.process(2048)).max() < 1e-3
    assert h.status()["active_voices"] == 0


def test_queue_full_is_refused_and_counted():
    h = _live.Host(RATE, 16, 1, queue_capacity=16)
    results = [h.push_midi(bytes([0x90, 60, 100]), 0.0) for _ in range(20)]
    assert results[:16] == [True] * 16 and results[16:] == [False] * 4
    assert h.status()["queue_full"] == 4
    h.process(64)
    assert h.push_midi(bytes([0x80, 60, 0]), 0.0)


def test_bad_arguments_are_rejected_clearly():
    with pytest.raises(ValueError, match="sample_rate"):
        _live.Host(10.0)
    with pytest.raises(ValueError, match="polyphony"):
        _live.Host(RATE, 0)
    h = make_host()
    with pytest.raises(ValueError, match="155 or 156"):
        h.push_voice(b"\x00" * 10)
    assert not h.push_midi(b"")


def test_gain_and_hard_limit():
    h = make_host(channels=1)
    for n in range(48, 64):  # 16 loud sines: the sum would exceed 1
        h.push_midi(bytes([0x90, n, 127]), 0.0)
    h.push_gain(8.0)
    out = h.process(4096)
    assert np.abs(out).max() <= 1.0 and np.isfinite(out).all()


def test_recording_matches_output_and_logs_event_frames():
    h = make_host(channels=2)
    h.set_recording(True)
    h.schedule_latency = 0.002
    h.push_midi(bytes([0x90, 69, 100]), 100.0)
    outs = [h.process(256, clock=100.0 + k * 256 / RATE)[:, 0] for k in range(8)]
    h.set_recording(False)
    rec = h.read_audio(1 << 16)
    assert np.array_equal(rec, np.concatenate(outs))
    log = h.read_log()
    notes = [e for e in log if e["kind"] == "midi"]
    assert len(notes) == 1 and notes[0]["data"] == bytes([0x90, 69, 100])
    # the logged frame is where the note starts in the recording
    on = first_sound(rec)
    assert on is not None and 0 <= on - notes[0]["frame"] <= 8


def test_statistics_count_callbacks_and_xrun_flags():
    h = make_host(channels=1)
    for i in range(10):
        h.process(64, flags=0x4 if i in (3, 7) else 0)  # paOutputUnderflow
    st = h.status()
    assert st["callbacks"] == 10 and st["frames"] == 640 and st["xruns"] == 2
    hist = h.callback_histogram()
    assert hist.sum() == 10
    h.reset_timing()
    h.process(64)
    assert h.callback_histogram().sum() == 1 and h.status()["xruns"] == 0


def _zero_crossing_spread(x):
    s = np.signbit(x)
    idx = np.flatnonzero(s[1:] != s[:-1])
    return np.diff(idx).std()


@pytest.mark.parametrize("name,message,range_param", [
    ("mod wheel", [0xB0, 1, 127], 70), ("foot", [0xB0, 4, 127], 72),
    ("breath", [0xB0, 2, 127], 74), ("aftertouch", [0xD0, 127], 76)])
def test_modulation_sources_reach_the_engine(name, message, range_param):
    """Each source, assigned to pitch by a function-parameter sysex (§8.8), adds LFO vibrato."""
    h = _live.Host(RATE, 16, 1)
    v = bytearray(sine_voice("VIB", 1))
    v[137], v[143] = 60, 7  # LFO speed, pitch-mod sensitivity 7; LFO pitch depth 0
    h.push_voice(bytes(v), 0.0)
    h.push_midi(bytes([0xF0, 0x43, 0x10, 0x08, range_param, 99, 0xF7]), 0.0)
    h.push_midi(bytes([0xF0, 0x43, 0x10, 0x08, range_param + 1, 1, 0xF7]), 0.0)  # assign: pitch
    h.push_midi(bytes([0x90, 69, 100]), 0.0)
    still = h.process(24000)[4800:, 0]
    h.push_midi(bytes(message), 0.0)
    moving = h.process(48000)[24000:, 0]
    assert _zero_crossing_spread(still) < 1.0
    assert _zero_crossing_spread(moving) > 5.0, name


def test_volume_controller_scales_the_output():
    peaks = []
    for cc7 in (127, 64, 0):
        h = make_host(channels=1)
        h.push_midi(bytes([0xB0, 7, cc7]), 0.0)
        h.push_midi(bytes([0x90, 69, 100]), 0.0)
        peaks.append(np.abs(h.process(9600)[4800:, 0]).max())
    assert peaks[0] > peaks[1] > peaks[2] and peaks[2] < 1e-3


def test_mono_mode_and_channel_filter():
    h = make_host(channels=1)
    h.push_channel(2, 0.0)
    h.push_midi(bytes([0x90, 69, 100]), 0.0)          # channel 1: ignored
    assert np.abs(h.process(2048)).max() == 0
    h.push_midi(bytes([0xB2, 126, 1]), 0.0)           # mono on channel 3
    h.push_midi(bytes([0x92, 60, 100]), 0.0)
    h.push_midi(bytes([0x92, 64, 100]), 0.0)
    h.process(4800)
    assert h.status()["active_voices"] == 1


# ---- ordering between the native MIDI path and Python (program changes, sysex) ------------------
def test_native_note_after_a_program_change_waits_for_python():
    """A note queued by the native MIDI input after it handed a program change to Python must not
    sound before Python has queued the new voice: it plays the new voice, late rather than wrong."""
    h = make_host(channels=1)
    h.process(256, clock=1.0)                          # the first voice is loaded
    h._handed_to_python()                              # a program change went to Python ...
    assert h._push_native(bytes([0x90, 69, 100]), 1.0)  # ... and a note came right after it
    held = [h.process(256, clock=1.0 + k * 256 / RATE)[:, 0] for k in range(1, 4)]
    assert all(np.abs(b).max() == 0 for b in held), "the note overtook the program change"
    assert h.status()["events_held"] == 1
    h.push_voice(sine_voice("SINE 2", 2), 1.0)         # Python handles it: voice 2 (ratio 2) ...
    h.python_done(1)                                   # ... and says so
    out = np.concatenate([h.process(256, clock=1.0 + k * 256 / RATE)[:, 0] for k in range(4, 40)])
    assert first_sound(out) is not None and first_sound(out) < 16
    assert abs(cents(strongest_partials(out[1024:], RATE)[0], 880.0)) < 5, "the note did not play the new voice"
    st = h.status()
    assert st["barrier_timeouts"] == 0
    # a note with no hand-over before it is not held
    h._push_native(bytes([0x80, 69, 0]), 0.0)
    h.process(256, clock=2.0)
    assert h.status()["events_held"] == 1


def test_native_notes_go_ahead_if_python_never_answers():
    import time

    h = make_host(channels=1)
    h.process(256, clock=1.0)
    h._handed_to_python()
    h._push_native(bytes([0x90, 69, 100]), 1.0)
    assert np.abs(h.process(256, clock=1.0)[:, 0]).max() == 0
    time.sleep(0.15)                                   # longer than the 0.1 s barrier timeout
    out = h.process(1024, clock=1.1)[:, 0]
    assert first_sound(out) is not None, "a stalled Python thread silenced the keyboard"
    st = h.status()
    assert st["barrier_timeouts"] == 1 and st["events_held"] == 1
    # Python's count stays exact: when it catches up, later hand-overs still hold what follows them
    h.python_done(1)
    h._handed_to_python()
    h._push_native(bytes([0x90, 72, 100]), 1.2)
    h.process(256, clock=1.2)
    assert h.status()["events_held"] == 2
