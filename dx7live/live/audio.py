"""Audio output for live play: host API / device selection and a stream with a native callback.

The stream is a ``sounddevice._StreamBase`` whose callback is a C function pointer: the address
of ``dx7live_stream_callback`` exported by the ``dx7live._live`` module, cast with sounddevice's
own cffi instance, and whose user data is the native ``Host``. PortAudio's audio thread calls
straight into C++; no Python runs there, so the GIL, the garbage collector and busy Python
threads cannot delay the audio.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from dataclasses import dataclass
from typing import Any, List, Optional, Union

from dx7live.live._quiet import quiet_stderr


class AudioError(RuntimeError):
    """No usable audio output (no device, no such host API, the stream would not open)."""


_portaudio: Any = None


def portaudio(client_name: str = "dx7live") -> Any:
    """The ``sounddevice`` module, initialised so that a running JACK server is listed and our
    JACK client is called ``client_name``.

    PortAudio only sees a JACK server that runs when it is initialised, and takes the JACK client
    name before that (PaJack_SetClientName keeps the pointer, so the buffer is kept alive here).
    """
    global _portaudio
    if _portaudio is not None:
        return _portaudio
    if "sounddevice" in sys.modules:  # initialised before and released: initialise again
        sd = sys.modules["sounddevice"]
        with quiet_stderr():
            sd._initialize()
        _portaudio = sd
        return sd
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    try:
        with quiet_stderr():
            import sounddevice as sd
    except OSError as exc:  # libportaudio missing
        raise AudioError(f"PortAudio is not available: {exc} (install libportaudio2)") from None
    try:
        lib = ctypes.CDLL(sd._libname)
        setter = getattr(lib, "PaJack_SetClientName", None)
    except OSError:
        setter = None
    if setter is not None:
        buf = ctypes.create_string_buffer(client_name.encode()[:60])
        setter(buf)
        portaudio._client_name_buffer = buf  # type: ignore[attr-defined]
        with quiet_stderr():
            sd._terminate()
            sd._initialize()
    _portaudio = sd
    return sd


def release_portaudio() -> None:
    """Shut PortAudio down (when our own JACK client plays instead): PortAudio's JACK host API
    keeps a JACK client open under our name for as long as it is initialised."""
    global _portaudio
    if _portaudio is not None:
        with contextlib.suppress(Exception):
            _portaudio._terminate()
        _portaudio = None


@dataclass
class OutputDevice:
    index: int
    name: str
    hostapi: str
    channels: int
    default_samplerate: float
    low_latency: float


def list_output_devices() -> List[OutputDevice]:
    """Every audio output device PortAudio offers, with its host API."""
    sd = portaudio()
    apis = sd.query_hostapis()
    out = []
    for i, d in enumerate(sd.query_devices()):
        if d["max_output_channels"] > 0:
            out.append(OutputDevice(i, d["name"], apis[d["hostapi"]]["name"], d["max_output_channels"],
                                    d["default_samplerate"], d["default_low_output_latency"]))
    return out


def _api_matches(hostapi_name: str, wanted: str) -> bool:
    return wanted.lower() in hostapi_name.lower()


def choose_device(api: Optional[str] = None, device: Optional[Union[str, int]] = None) -> OutputDevice:
    """Pick the output device: ``device`` (index or name substring) within ``api`` (host API name
    substring, e.g. 'jack', 'alsa', 'pulse'); by default JACK's when a JACK server runs, else the
    system default output, else the first output device."""
    sd = portaudio()
    devices = list_output_devices()
    if not devices:
        raise AudioError("no audio output device found (no sound card, and no JACK or PulseAudio "
                         "server running). Start one, e.g. `jackd -d dummy` for a silent test.")
    apis = sd.query_hostapis()
    if api:
        candidates = [d for d in devices if _api_matches(d.hostapi, api)]
        if not candidates:
            names = sorted({d.hostapi for d in devices})
            hint = " (is the JACK server running?)" if "jack" in api.lower() else ""
            raise AudioError(f"no output device on audio API {api!r}{hint}; available: {', '.join(names)}")
    else:
        candidates = devices
    if device is not None and str(device) != "":
        text = str(device)
        if text.isdigit():
            hit = [d for d in candidates if d.index == int(text)]
        else:
            hit = [d for d in candidates if d.name == text] or \
                  [d for d in candidates if text.lower() in d.name.lower()]
        if not hit:
            listing = "; ".join(f"{d.index}: {d.name} ({d.hostapi})" for d in candidates)
            raise AudioError(f"no output device matches {text!r}; available: {listing}")
        return hit[0]
    if api:
        api_index = next(i for i, a in enumerate(apis) if _api_matches(a["name"], api))
        default = apis[api_index]["default_output_device"]
        return next((d for d in candidates if d.index == default), candidates[0])
    jack = [d for d in devices if "jack" in d.hostapi.lower()]
    if jack:  # a running JACK server is what the user wants to play into
        api_index = next(i for i, a in enumerate(apis) if "jack" in a["name"].lower())
        default = apis[api_index]["default_output_device"]
        return next((d for d in jack if d.index == default), jack[0])
    try:
        default = sd.default.device[1]
    except Exception:
        default = -1
    if default is None or default < 0:
        with contextlib.suppress(Exception):
            default = sd.query_devices(kind="output")["index"]
    return next((d for d in devices if d.index == default), devices[0])


class AudioOutput:
    """A PortAudio output stream rendered by the native host's callback."""

    def __init__(self, host: Any, device: OutputDevice, sample_rate: float, *, blocksize: int = 0,
                 latency: Union[str, float] = "low") -> None:
        from dx7live import _live

        sd = portaudio()
        self.sd = sd
        self.host = host
        self.device = device
        callback = sd._ffi.cast("PaStreamCallback *", _live.CALLBACK_ADDRESS)
        userdata = sd._ffi.cast("void *", host.userdata())
        try:
            self.stream = sd._StreamBase(
                kind="output", samplerate=sample_rate, blocksize=blocksize, device=device.index,
                channels=host.channels, dtype="float32", latency=latency,
                callback=callback, userdata=userdata, dither_off=True)
        except Exception as exc:
            raise AudioError(f"could not open audio output {device.name!r} ({device.hostapi}) at "
                             f"{sample_rate:g} Hz: {exc}") from None
        self._callback = callback  # keep the cffi objects alive as long as the stream
        self._userdata = userdata

    @property
    def latency(self) -> float:
        return float(self.stream.latency)

    @property
    def blocksize(self) -> int:
        return int(self.stream.blocksize)

    @property
    def samplerate(self) -> float:
        return float(self.stream.samplerate)

    def start(self) -> None:
        self.stream.start()

    def close(self) -> None:
        """Stop and close the stream (always before the host object is released)."""
        with contextlib.suppress(Exception):
            self.stream.stop()
        with contextlib.suppress(Exception):
            self.stream.close()


class JackAudioOutput:
    """Audio on JACK without PortAudio: the native ``_live.JackClient`` renders the host in its own
    process callback (one JACK client for MIDI in and audio out; the audio timeline is JACK's frame
    counter). Same interface as :class:`AudioOutput`."""

    def __init__(self, jack_client: Any, device: OutputDevice, on_state: Any = None) -> None:
        self.client = jack_client
        self.on_state = on_state or (lambda text: None)
        self.device = OutputDevice(device.index, f"{jack_client.client_name} (native JACK client)",
                                   device.hostapi, device.channels, jack_client.sample_rate, 0.0)

    @property
    def latency(self) -> float:
        return self.client.buffer_size / self.client.sample_rate

    @property
    def blocksize(self) -> int:
        return int(self.client.buffer_size)

    @property
    def samplerate(self) -> float:
        return float(self.client.sample_rate)

    def start(self) -> None:
        """Activate, then connect out_N to the N-th physical output, as PortAudio's JACK client does."""
        import threading

        self.client.activate()
        name = self.client.client_name
        for i, dest in enumerate(self.client.playback_ports()[:2]):
            self.client.connect_ports(f"{name}:out_{i}", dest)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._recalibrate, name="dx7live-jack-clock", daemon=True)
        self._thread.start()

    def _recalibrate(self) -> None:
        """Keep JACK's frame counter mapped onto the host clock (drift, jumps after xruns), so that
        events stamped by Python (keys, RtMidi) land where they should."""
        while not self._stop.wait(1.0):
            if self.client.shut_down:
                self.on_state("the JACK server went away: no more sound (quit, restart JACK, play again)")
                return
            with contextlib.suppress(Exception):
                self.client.recalibrate()

    def close(self) -> None:
        """Stop the clock thread; the session closes the shared JACK client last."""
        if getattr(self, "_thread", None) is not None:
            self._stop.set()
            self._thread.join(2.0)
