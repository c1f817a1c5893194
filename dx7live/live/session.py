"""A live session: banks + native host + MIDI poller + audio stream (+ recorder), started and
stopped in the right order. ``dx7live play`` is this plus the terminal display.

Start order matters on these systems: the banks are read first (a bad file fails before any device
is touched); MIDI ports are opened before the audio stream starts (opening an rtmidi port holds the
GIL for tens of milliseconds; harmless for the native callback, but there is no reason to overlap);
``gc.freeze()`` runs once everything is built so that collections stay short. Stop order is the
reverse, and the audio stream is always closed before the host it points into is released.
"""
from __future__ import annotations

import contextlib
import gc
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from dx7live.live.instrument import Instrument, LoadedBank

DEFAULT_EXTRA_LATENCY_MS = None  # None = two audio periods + 1 ms (see LiveSession.start)


def histogram_percentiles(hist: Any, qs=(50, 90, 99, 99.9)) -> Dict[str, float]:
    """Callback-time percentiles (seconds) from the host's histogram (8 bins per octave of ns).

    Each percentile is the upper edge of the bin it falls in, so it over-states by at most 9%."""
    import numpy as np

    counts = np.asarray(hist, dtype=np.int64)
    total = int(counts.sum())
    out: Dict[str, float] = {}
    if total == 0:
        return out
    b = np.arange(len(counts))
    e, m = b // 8, b % 8
    upper = np.where(b < 8, b + 1, (9 + m) * 2.0 ** (e - 3)) * 1e-9
    cum = np.cumsum(counts)
    for q in qs:
        i = int(np.searchsorted(cum, q / 100.0 * total))
        out[f"p{q:g}"] = float(upper[min(i, len(counts) - 1)])
    return out


class BankError(ValueError):
    """A bank file could not be read."""


def load_banks(paths: List[str]) -> List[LoadedBank]:
    """The banks to play: each file in ``paths`` (any format dx7live.load reads), else the built-in bank."""
    if not paths:
        from dx7live import builtin_bank

        return [LoadedBank("built-in", builtin_bank().vced)]
    from dx7live import load

    banks = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise BankError(f"{p}: no such file")
        try:
            bank = load(str(path))
        except Exception as exc:  # PatchError or an OS error: report it, no traceback
            raise BankError(f"{p}: not a DX7 bank: {exc}") from None
        try:
            banks.append(LoadedBank(path.name, bank.vced))
        except ValueError as exc:
            raise BankError(f"{p}: {exc}") from None
    return banks


@dataclass
class LiveConfig:
    """Everything ``dx7live play`` can set (CLI flags map one to one)."""
    banks: List[str] = field(default_factory=list)
    voice: int = 0                      # 0-based program number
    midi: Optional[str] = None          # port name/substring/index; None = first port
    virtual: bool = False
    midi_api: str = "auto"
    no_midi: bool = False               # play without MIDI input (tests, the keys still work)
    audio_api: Optional[str] = None
    device: Optional[str] = None
    sample_rate: Optional[float] = None
    polyphony: int = 16
    blocksize: int = 0
    latency: Any = "low"
    channel: Optional[int] = None       # 0..15 or None = omni
    master_tune: int = 0
    gain: float = 1.0
    extra_latency_ms: Optional[float] = DEFAULT_EXTRA_LATENCY_MS
    audio_backend: str = "auto"         # auto: our own JACK client on JACK, PortAudio elsewhere; or portaudio
    midi_backend: str = "auto"          # auto: native on JACK, python-rtmidi (polled) on ALSA; or rtmidi
    record: Optional[str] = None
    client_name: str = "dx7live"


class LiveSession:
    def __init__(self, config: LiveConfig, on_message: Optional[Callable[[str], None]] = None) -> None:
        self.config = config
        self.messages: List[str] = []
        self._on_message = on_message
        self.host: Any = None
        self.audio: Any = None
        self.midi: Any = None
        self.recorder: Any = None
        self.instrument: Optional[Instrument] = None
        self.jack_client: Any = None
        self.sample_rate: Optional[float] = None
        self.started = False

    def message(self, text: str) -> None:
        self.messages.append(text)
        del self.messages[:-20]
        if self._on_message:
            self._on_message(text)

    def start(self) -> None:
        from dx7live import _live
        from dx7live.live.audio import AudioError, AudioOutput, JackAudioOutput, choose_device, release_portaudio

        cfg = self.config
        banks = load_banks(cfg.banks)
        if not 0 <= cfg.voice < len(banks[0].vced):
            raise BankError(f"--voice {cfg.voice + 1}: {banks[0].name} has {len(banks[0].vced)} voices")
        device = choose_device(cfg.audio_api, cfg.device)
        native_jack = (cfg.audio_backend != "portaudio" and "jack" in device.hostapi.lower()
                       and _live.jack_available())
        if native_jack and cfg.blocksize:
            self.message(f"--blocksize {cfg.blocksize} ignored: on JACK the server's period is the block size "
                         "(jackd -p FRAMES)")
        sample_rate = float(cfg.sample_rate or device.default_samplerate)
        if native_jack and cfg.sample_rate and abs(cfg.sample_rate - device.default_samplerate) > 0.5:
            raise AudioError(f"the JACK server runs at {device.default_samplerate:g} Hz, not {cfg.sample_rate:g} Hz")
        self.sample_rate = sample_rate
        channels = max(1, min(2, device.channels))
        self.host = _live.Host(sample_rate, cfg.polyphony, 1 if native_jack else channels,
                               record_capacity_frames=int(sample_rate * 8))
        if cfg.channel is not None:
            self.host.push_channel(cfg.channel, 0.0)
        if cfg.master_tune:
            self.host.push_master_tune(cfg.master_tune, 0.0)
        if cfg.gain != 1.0:
            self.host.push_gain(cfg.gain)
        self.instrument = Instrument(self.host, banks, channel=cfg.channel, program=cfg.voice,
                                     on_message=self.message)
        from dx7live.live.midi_input import NativeJackMidi, alsa_midi_available, open_midi_input

        jack_midi = native_jack and not cfg.no_midi and cfg.midi_backend != "rtmidi" and (
            cfg.midi_api == "jack" or (cfg.midi_api == "auto" and not alsa_midi_available()))
        if native_jack:
            # one JACK client for MIDI in and audio out (PortAudio's own JACK client would hold our name)
            release_portaudio()
            try:
                self.jack_client = _live.JackClient(self.host, cfg.client_name, "midi_in" if jack_midi else "",
                                                    audio_ports=channels)
            except RuntimeError as exc:
                raise AudioError(f"could not open a JACK client: {exc}") from None
        if jack_midi:
            self.midi = NativeJackMidi(self.host, self.instrument.handle, port=cfg.midi, virtual=cfg.virtual,
                                       client_name=cfg.client_name, on_state=self.message, client=self.jack_client)
        elif not cfg.no_midi:
            self.midi = open_midi_input(self.host, self.instrument.handle, api=cfg.midi_api, port=cfg.midi,
                                        virtual=cfg.virtual, client_name=f"{cfg.client_name}-midi",
                                        on_state=self.message, native=cfg.midi_backend != "rtmidi")
        if native_jack:
            self.audio = JackAudioOutput(self.jack_client, device, on_state=self.message)
        else:
            self.audio = AudioOutput(self.host, device, sample_rate, blocksize=cfg.blocksize, latency=cfg.latency)
            if getattr(self.midi, "input", None) is not None and "jack" in device.hostapi.lower() \
                    and cfg.blocksize == 0:
                # PortAudio on JACK and our JACK MIDI client: time the callback on JACK's frame clock
                self.host.set_jack_clock(self.midi.input)
        if cfg.record:
            from dx7live.live.recorder import Recorder

            self.recorder = Recorder(self.host, cfg.record, self.audio.samplerate)
        self.audio.start()
        self.started = True
        self._set_schedule_latency()
        if self.recorder is not None:
            self.recorder.start()
        if self.midi is not None:
            self.midi.start()
        if self.midi is not None and not hasattr(self.midi, "input"):
            # notes pass through the Python poller (RtMidi): it must get the GIL quickly even beside
            # a busy Python thread. (Native JACK MIDI needs no such thing: forcing a busy thread to
            # hand the GIL over every 0.5 ms costs thousands of context switches a second.)
            sys.setswitchinterval(0.0005)
        gc.collect()
        gc.freeze()

    def _set_schedule_latency(self) -> None:
        """Event stamp -> sound: the stream's output latency plus a margin for the MIDI path
        (waiting for the next callback, and the poller's own delay). None when MIDI and audio are
        one native JACK client: each event arrives in the very callback that plays its frame."""
        deadline = time.monotonic() + 1.0
        while self.host.status()["callbacks"] < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        st = self.host.status()
        # PortAudio reports its output latency to the callback; our own JACK client renders
        # straight into the port, so there is none to add
        out_latency = st["output_latency_s"]
        block = st["block_frames"] or self.audio.blocksize or 256
        period = block / self.audio.samplerate
        extra = self.config.extra_latency_ms
        same_cycle = self.jack_client is not None and getattr(self.midi, "input", None) is self.jack_client
        if extra is not None:
            extra_s = extra / 1000.0
        else:
            extra_s = 0.0 if same_cycle else 2 * period + 0.001
        self.host.schedule_latency = out_latency + extra_s
        self.host.reset_timing()

    def status(self) -> Dict[str, Any]:
        """Everything the display shows, in one snapshot."""
        st = dict(self.host.status()) if self.host is not None else {}
        inst = self.instrument
        if inst is not None:
            st.update(bank=inst.bank.name, bank_index=inst.bank_index, banks=len(inst.banks),
                      program=inst.program, voice=inst.edit_name)
        if self.midi is not None:
            st.update(midi_port=self.midi.opened_name, midi_api=self.midi.api,
                      midi_connected=self.midi.connected, midi_messages=self.midi.messages,
                      midi_last=self.midi.last_message, midi_last_time=self.midi.last_time)
        if self.audio is not None:
            st.update(device=self.audio.device.name, hostapi=self.audio.device.hostapi,
                      sample_rate=self.audio.samplerate, latency_s=self.audio.latency,
                      schedule_latency_s=self.host.schedule_latency)
        if self.recorder is not None:
            st.update(record_frames=self.recorder.frames, record_path=str(self.recorder.wav_path))
        return st

    def stop(self) -> None:
        """Stop everything in reverse order; safe to call twice or after a failed start."""
        gc.unfreeze()
        if self.audio is not None:  # first: the callback may read the JACK MIDI client's clock
            self.audio.close()
            self.audio = None
        if self.midi is not None:
            with contextlib.suppress(Exception):
                self.midi.stop()
            self.midi = None
        if self.jack_client is not None:  # the native JACK client (audio and perhaps MIDI) goes last
            with contextlib.suppress(Exception):
                self.jack_client.close()
            self.jack_client = None
        if self.recorder is not None:
            self.recorder.close(keep=self.started)  # a recording that never started is discarded
            self.recorder = None
        self.started = False
