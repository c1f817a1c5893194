"""The Python parts of live play without devices: arrival timestamps, port choice, the instrument's
MIDI and sysex handling, the display, the recorder, and the CLI's error messages."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dx7live.live.instrument import Instrument, LoadedBank, voice_name
from support.jacktest import bank_sysex, sine_voice
from dx7live.live.midi_input import ArrivalClock, api_order, find_port, MidiError
from dx7live.live.status import decode_keys, format_status

from support.paths import REPO  # noqa: E402


# ---- arrival timestamps -------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 0.5), min_size=1, max_size=60),
       delays=st.lists(st.floats(0.0, 0.01), min_size=60, max_size=60),
       origin=st.floats(0.0, 1e5))
def test_arrival_clock_recovers_true_arrival_times(gaps, delays, origin):
    """Stamps never lie in the future of the poll, and are off by at most the smallest poll delay seen."""
    clock = ArrivalClock()
    arrival = origin
    best = float("inf")
    for i, gap in enumerate(gaps):
        arrival += gap if i else 0.0
        polled = arrival + delays[i]
        best = min(best, delays[i])
        stamp = clock.stamp(gap if i else 0.0, polled)
        assert stamp <= polled + 1e-9
        assert abs(stamp - arrival) <= best + 1e-6


def test_arrival_clock_rebases_when_the_driver_clock_runs_slow():
    clock = ArrivalClock(drift_limit=0.02, drift_count=8)
    t = 0.0
    for i in range(400):  # the driver's deltas are 1% short: it falls 5 ms behind per 0.5 s
        t += 0.05
        stamp = clock.stamp(0.05 * 0.99 if i else 0.0, t + 0.0002)
    assert abs(stamp - t) < 0.03


def test_api_order_and_port_choice():
    assert api_order("auto") == ["alsa", "jack"]
    assert api_order("JACK") == ["jack"]
    with pytest.raises(MidiError, match="unknown MIDI API"):
        api_order("coreaudio")
    ports = ["Midi Through:Midi Through Port-0 14:0", "Keystation 49:Keystation MIDI 1 20:0", "dx7live-midi:in"]
    assert find_port(ports, None) == 1          # not our own port, not the through port
    assert find_port(ports, "keystation") == 1
    assert find_port(ports, "2") == 2
    assert find_port(ports, "nothing") is None
    assert find_port(["Midi Through:0"], None) == 0


# ---- the instrument -------------------------------------------------------------------------------
class FakeHost:
    def __init__(self):
        self.calls = []

    def push_midi(self, msg, time=-1.0):
        self.calls.append(("midi", bytes(msg), time))
        return True

    def push_voice(self, vced, time=-1.0):
        self.calls.append(("voice", bytes(vced), time))
        return True

    def push_function(self, param, value, time=-1.0):
        self.calls.append(("function", param, value))
        return True

    def push_panic(self):
        self.calls.append(("panic",))
        return True


def voices(*ratios):
    return np.frombuffer(b"".join(sine_voice(f"SINE {r}", r) for r in ratios), np.uint8).reshape(-1, 155)


@pytest.fixture
def inst():
    host = FakeHost()
    banks = [LoadedBank("A", voices(1, 2, 3)), LoadedBank("B", voices(4, 5))]
    notes = []
    return Instrument(host, banks, channel=None, on_message=notes.append), host, notes


def test_instrument_loads_the_start_voice(inst):
    i, host, _ = inst
    assert host.calls[0][0] == "voice" and host.calls[0][1] == sine_voice("SINE 1", 1)
    assert i.edit_name == "SINE 1"


def test_notes_and_controllers_go_to_the_engine_with_their_time(inst):
    i, host, _ = inst
    i.handle([0x90, 60, 100], 12.5)
    i.handle([0xB0, 1, 64], 12.6)
    i.handle([0xE0, 0, 0x7F], 12.7)
    assert host.calls[1:] == [("midi", bytes([0x90, 60, 100]), 12.5), ("midi", bytes([0xB0, 1, 64]), 12.6),
                              ("midi", bytes([0xE0, 0, 0x7F]), 12.7)]


def test_program_change_and_bank_select(inst):
    i, host, _ = inst
    i.handle([0xC0, 2], 1.0)
    assert host.calls[-1] == ("voice", sine_voice("SINE 3", 3), 1.0) and i.program == 2
    i.handle([0xB0, 0, 0], 2.0)
    i.handle([0xB0, 32, 1], 2.0)        # bank 1 = B
    i.handle([0xC0, 1], 2.1)
    assert host.calls[-1] == ("voice", sine_voice("SINE 5", 5), 2.1) and i.bank.name == "B"
    i.handle([0xC0, 5], 2.2)            # wraps around the bank's size
    assert i.program == 1
    i.step_program(1)                   # past the end of B: into A
    assert i.bank.name == "A" and i.program == 0


def test_channel_filter_for_program_change():
    host = FakeHost()
    i = Instrument(host, [LoadedBank("A", voices(1, 2))], channel=3)
    i.handle([0xC0, 1], 1.0)            # channel 1: ignored
    assert i.program == 0
    i.handle([0xC3, 1], 1.0)
    assert i.program == 1


def test_bulk_dump_replaces_bank_and_reloads_program(inst):
    i, host, notes = inst
    i.handle([0xC0, 1], 1.0)
    i.handle(list(bank_sysex([sine_voice("NEW 7", 7), sine_voice("NEW 9", 9)])), 3.0)
    assert host.calls[-1] == ("voice", sine_voice("NEW 9", 9), 3.0)
    assert i.bank.names[:2] == ["NEW 7", "NEW 9"] and len(i.bank.vced) == 32
    assert any("bank received" in n for n in notes)


def test_bulk_dump_with_bad_checksum_still_loads_and_says_so(inst):
    i, host, notes = inst
    syx = bytearray(bank_sysex([sine_voice("NEW 7", 7)]))
    syx[-2] ^= 0x01
    i.handle(list(syx), 3.0)
    assert i.bank.names[0] == "NEW 7"
    assert any("checksum" in n for n in notes)


def test_single_voice_dump_goes_to_the_edit_buffer(inst):
    i, host, _ = inst
    body = sine_voice("EDIT", 6)
    cs = (-sum(body)) & 0x7F
    i.handle([0xF0, 0x43, 0x00, 0x00, 0x01, 0x1B] + list(body) + [cs, 0xF7], 4.0)
    assert host.calls[-1] == ("voice", body, 4.0) and i.edit_name == "EDIT"


def test_parameter_changes_pass_to_the_engine(inst):
    i, host, _ = inst
    msg = [0xF0, 0x43, 0x10, 0x08, 65, 7, 0xF7]     # function parameter 65 (bend range) = 7
    i.handle(msg, 5.0)
    assert host.calls[-1] == ("midi", bytes(msg), 5.0)
    i.handle([0xF0, 0x43, 0x10, 0x01, 145 - 128, ord("Z"), 0xF7], 5.1)  # first name character
    assert i.edit_name.startswith("Z")


def test_sysex_for_other_device_or_maker_is_ignored():
    host = FakeHost()
    i = Instrument(host, [LoadedBank("A", voices(1))], channel=0)
    n = len(host.calls)
    i.handle([0xF0, 0x43, 0x15, 0x08, 65, 7, 0xF7], 1.0)   # device 6
    i.handle([0xF0, 0x41, 0x10, 0x42, 0xF7], 1.0)          # Roland
    i.handle([0xF0, 0x43, 0x20, 0x09, 0xF7], 1.0)          # dump request: ignored by a DX7
    assert len(host.calls) == n


def test_function_block_dump_sets_function_parameters(inst):
    i, host, _ = inst
    block = [0] * 94
    block[3] = 12           # bend range
    block[9] = 15           # mod wheel sensitivity 15 -> 99
    block[10] = 1           # mod wheel -> pitch
    cs = (-sum(block)) & 0x7F
    i.handle([0xF0, 0x43, 0x00, 0x01, 0x00, 0x5E] + block + [cs, 0xF7], 1.0)
    fns = {c[1]: c[2] for c in host.calls if c[0] == "function"}
    assert fns[65] == 12 and fns[70] == 99 and fns[71] == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=0, max_size=300))
def test_instrument_survives_any_bytes(data):
    host = FakeHost()
    i = Instrument(host, [LoadedBank("A", voices(1, 2))])
    i.handle(data, 1.0)
    if data[:1] != [0xF0]:
        i.handle([0xF0] + data + [0xF7], 1.0)


def test_voice_name_mapping():
    v = np.frombuffer(sine_voice("A\\B~", 1), np.uint8)
    assert voice_name(v) == "AYB>"


# ---- display -----------------------------------------------------------------------------------------
def test_keys_decode():
    assert decode_keys(b"\x1b[C+\x1b[D- pq") == ["next", "next", "prev", "prev", "panic", "panic", "quit"]


def test_status_lines_show_what_a_player_needs():
    st_ = dict(program=4, voice="BRASS 1", bank="rom1a.syx", banks=2, bank_index=1, midi_port="Keystation",
               midi_api="alsa", midi_connected=False, midi_messages=12, midi_last=[0x90, 60, 100],
               midi_last_time=9.9, device="system", hostapi="JACK", sample_rate=48000, block_frames=64,
               schedule_latency_s=0.006, active_voices=3, load=0.123, max_callback_s=0.0004, xruns=2,
               late_callbacks=1, events_late=0, peak=0.5)
    text = "\n".join(format_status(st_, 10.0))
    for part in ("5 BRASS 1", "rom1a.syx [2/2]", "Keystation", "disconnected", "90 3C 64", "voices  3",
                 "12.3%", "xruns 2", "*"):
        assert part in text, part


# ---- recorder ------------------------------------------------------------------------------------------
def test_recorder_writes_wav_and_event_lines(tmp_path):
    _live = pytest.importorskip("dx7live._live")
    from dx7live._io import read_wav
    from dx7live.live.recorder import Recorder

    h = _live.Host(48000.0, 16, 1)
    h.push_voice(sine_voice("REC", 1), 0.0)
    h.schedule_latency = 0.0
    rec = Recorder(h, str(tmp_path / "take.wav"), 48000.0)
    rec.start()
    h.push_midi(bytes([0x90, 69, 100]), 50.0 + 1000 / 48000)
    h.push_midi(bytes([0x80, 69, 0]), 50.0 + 3000 / 48000)
    outs = [h.process(256, clock=50.0 + k * 256 / 48000)[:, 0] for k in range(40)]
    rec.close()
    audio, rate = read_wav(tmp_path / "take.wav")
    assert rate == 48000 and len(audio) == 40 * 256
    assert np.abs(audio - np.concatenate(outs)).max() < 1e-4
    lines = [json.loads(x) for x in (tmp_path / "take.midi.jsonl").read_text().splitlines()]
    kinds = [(x["kind"], x["frame"]) for x in lines]
    # the start voice is loaded by the first recorded callback, then the notes at their frames
    assert kinds == [("voice", 0), ("note_on", 1000), ("note_off", 3000)]
    assert lines[0]["name"] == "REC"
    assert lines[1]["midi"] == [0x90, 69, 100] and abs(lines[1]["time"] - 1000 / 48000) < 1e-6


def test_discarded_recording_leaves_no_file(tmp_path):
    _live = pytest.importorskip("dx7live._live")
    from dx7live.live.recorder import Recorder

    h = _live.Host(48000.0, 16, 1)
    rec = Recorder(h, str(tmp_path / "x.wav"), 48000.0)
    rec.close(keep=False)
    assert list(tmp_path.iterdir()) == []


# ---- CLI errors: clear messages, no tracebacks ------------------------------------------------------
def run_cli(*args, env_extra=None):
    env = dict(os.environ, JACK_DEFAULT_SERVER="dx7live-no-such-server", JACK_NO_START_SERVER="1",
               PYTHONPATH=str(REPO))
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "dx7live", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)


def test_play_with_a_missing_bank_file(tmp_path):
    r = run_cli("play", "--bank", str(tmp_path / "nope.syx"), "--no-midi")
    assert r.returncode == 2 and "nope.syx: no such file" in r.stderr and "Traceback" not in r.stderr


def test_play_with_a_bad_bank_file(tmp_path):
    bad = tmp_path / "bad.syx"
    bad.write_bytes(b"this is not a DX7 bank")
    r = run_cli("play", "--bank", str(bad), "--no-midi")
    assert r.returncode == 2 and "bad.syx" in r.stderr and "Traceback" not in r.stderr


def test_play_with_a_voice_beyond_the_bank():
    r = run_cli("play", "--voice", "33", "--no-midi")
    assert r.returncode == 2 and "has 32 voices" in r.stderr and "Traceback" not in r.stderr


def test_play_without_audio_device():
    # no sound card here and the JACK server named above does not exist
    if Path("/dev/snd").exists():
        pytest.skip("this machine has sound devices")
    r = run_cli("play", "--no-midi")
    assert r.returncode == 3 and "no audio output device" in r.stderr and "Traceback" not in r.stderr


def test_play_rejects_bad_options():
    r = run_cli("play", "--channel", "17")
    assert r.returncode == 2 and "--channel" in r.stderr
    r = run_cli("play", "--record", "take.mp3")
    assert r.returncode == 2 and ".wav" in r.stderr


def test_devices_lists_or_explains():
    r = run_cli("devices")
    assert "audio outputs:" in r.stdout and "MIDI inputs:" in r.stdout and "Traceback" not in r.stderr


def test_histogram_percentiles_bracket_the_true_values():
    from dx7live.live.session import histogram_percentiles

    rng = np.random.default_rng(1)
    durations = rng.lognormal(np.log(50e3), 0.5, 5000).astype(np.int64)  # ns
    hist = np.zeros(256, np.int64)
    for d in durations:
        e = int(d).bit_length() - 1
        hist[8 * e + ((int(d) >> (e - 3)) & 7)] += 1
    got = histogram_percentiles(hist)
    for q in (50, 90, 99):
        true = np.percentile(durations, q) * 1e-9
        assert true <= got[f"p{q}"] * 1.001 and got[f"p{q}"] <= true * 1.15
