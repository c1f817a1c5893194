"""The DX7 engine for Python: :class:`Synth` (a live, sample-accurate instrument) and
:func:`render_note` (one note, offline).

Everything here validates its arguments and raises :class:`ValueError` naming the bad argument;
the native module :mod:`dx7live._engine` does the work (and releases the GIL while rendering).

    >>> from dx7live.engine.synth import Synth
    >>> s = Synth(sample_rate=48000, polyphony=16)
    >>> s.load_voice(voice)               # a dx7live.Voice, or 155/156 VCED bytes
    >>> s.note_on(60, 100, offset=0)
    >>> audio = s.render(48000)           # float32, one carrier at full level peaks at 0.25
"""
from __future__ import annotations

import numbers
from typing import Any, Iterable, Optional, Union

import numpy as np

from dx7live import _engine

ENGINE_VERSION: str = _engine.ENGINE_VERSION
MAX_POLYPHONY: int = _engine.MAX_POLYPHONY

#: Function parameters (sysex numbers, §1.6 of the fact sheet) and their maximum values.
FUNCTION_PARAMETERS = {
    64: ("mono", 1),
    65: ("pitch_bend_range", 12),
    66: ("pitch_bend_step", 12),
    67: ("portamento_mode", 1),
    68: ("glissando", 1),
    69: ("portamento_time", 99),
    70: ("mod_wheel_range", 99),
    71: ("mod_wheel_assign", 7),
    72: ("foot_range", 99),
    73: ("foot_assign", 7),
    74: ("breath_range", 99),
    75: ("breath_assign", 7),
    76: ("aftertouch_range", 99),
    77: ("aftertouch_assign", 7),
}
_FUNCTION_BY_NAME = {name: num for num, (name, _) in FUNCTION_PARAMETERS.items()}

VoiceLike = Union[bytes, bytearray, memoryview, np.ndarray, Iterable[int], Any]


def _int_in(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {v}")
    return v


def _byte_string(name: str, data: Any) -> bytes:
    """bytes from bytes-like data, a 1-D integer array or an iterable of ints 0..255."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, np.ndarray):
        if data.ndim != 1 or not np.issubdtype(data.dtype, np.integer):
            raise ValueError(f"{name}: expected a 1-D integer array, got shape {data.shape} dtype {data.dtype}")
        if data.size and (data.min() < 0 or data.max() > 255):
            raise ValueError(f"{name}: values must be in 0..255")
        return data.astype(np.uint8).tobytes()
    try:
        values = list(data)
    except TypeError:
        raise ValueError(f"{name}: expected bytes or a sequence of ints, got {type(data).__name__}") from None
    for i, x in enumerate(values):
        if isinstance(x, bool) or not isinstance(x, numbers.Integral) or not 0 <= int(x) <= 255:
            raise ValueError(f"{name}: item {i} is {x!r}, expected an int in 0..255")
    return bytes(int(x) for x in values)


def voice_bytes(voice: VoiceLike) -> bytes:
    """The 155 (or 156, with operator on/off) VCED bytes of ``voice``.

    Accepts anything with ``to_vced()`` (e.g. :class:`dx7live.Voice`), bytes-like data, a 1-D integer
    array or a sequence of ints. Values 0..255 are all accepted (the engine clamps, §1.7).
    """
    data = voice.to_vced() if hasattr(voice, "to_vced") else voice
    b = _byte_string("voice", data)
    if len(b) not in (155, 156):
        raise ValueError(f"voice: expected 155 or 156 VCED bytes, got {len(b)}")
    return b


def _offset(offset: Any) -> int:
    return _int_in("offset", offset, 0, 2**31 - 1)


class Synth:
    """A DX7 Mark I: 6 operators, 32 algorithms, ``polyphony`` voices (1..64), mono output.

    Events (notes, controllers, sysex) take ``offset``: the frame, counted from the start of the next
    :meth:`render` call, at which they happen (offsets past that call carry over to later calls).
    When every voice's key is held, a new note is ignored, as on the DX7 (fact sheet §11.1).
    """

    def __init__(self, sample_rate: float = 48000, polyphony: int = 16) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
            raise ValueError(f"sample_rate must be a number, got {sample_rate!r}")
        if not 8000 <= float(sample_rate) <= 192000:
            raise ValueError(f"sample_rate must be between 8000 and 192000 Hz, got {sample_rate}")
        polyphony = _int_in("polyphony", polyphony, 1, MAX_POLYPHONY)
        self._s = _engine.Synth(float(sample_rate), polyphony)

    # -- configuration -------------------------------------------------------------------------
    @property
    def sample_rate(self) -> float:
        return self._s.sample_rate

    @property
    def polyphony(self) -> int:
        return self._s.polyphony

    def load_voice(self, voice: VoiceLike) -> None:
        """Load a voice (a :class:`dx7live.Voice` or 155/156 VCED bytes). Sounding notes are cut
        to their release, as when the DX7 activates a patch."""
        self._s.load_voice(voice_bytes(voice))

    def voice_data(self) -> bytes:
        """The loaded voice: 156 clamped VCED bytes (155 parameters + operator on/off)."""
        return self._s.voice_data()

    def set_function(self, param: Union[int, str], value: int) -> None:
        """Set a function parameter by sysex number 64..77 or name (see ``FUNCTION_PARAMETERS``)."""
        if isinstance(param, str):
            if param not in _FUNCTION_BY_NAME:
                raise ValueError(f"unknown function parameter {param!r}; known: {sorted(_FUNCTION_BY_NAME)}")
            param = _FUNCTION_BY_NAME[param]
        param = _int_in("param", param, 64, 77)
        name, mx = FUNCTION_PARAMETERS[param]
        self._s.set_function(param, _int_in(name, value, 0, mx))

    def function(self, param: int) -> int:
        """Current value of function parameter 64..77."""
        return self._s.function(_int_in("param", param, 64, 77))

    def set_master_tune(self, units: int) -> None:
        """Master tune in firmware units, -256..255 (4096 per octave, so ±75 cents)."""
        self._s.set_master_tune(_int_in("master tune", units, -256, 255))

    @property
    def master_tune(self) -> int:
        return self._s.master_tune

    def set_channel(self, channel: Optional[int]) -> None:
        """MIDI receive channel 0..15 for :meth:`midi` and sysex, or None / -1 for omni."""
        self._s.set_channel(-1 if channel is None else _int_in("channel", channel, -1, 15))

    @property
    def channel(self) -> Optional[int]:
        c = self._s.channel
        return None if c < 0 else c

    # -- events --------------------------------------------------------------------------------
    def note_on(self, note: int, velocity: int, offset: int = 0) -> None:
        """Key down (velocity 0 = key up, as in MIDI)."""
        self._s.note_on(_int_in("note", note, 0, 127), _int_in("velocity", velocity, 0, 127), _offset(offset))

    def note_off(self, note: int, offset: int = 0) -> None:
        self._s.note_off(_int_in("note", note, 0, 127), _offset(offset))

    def control_change(self, cc: int, value: int, offset: int = 0) -> None:
        """MIDI controller: 1 mod wheel, 2 breath, 4 foot, 5 portamento time, 7 volume, 64 sustain,
        65 portamento, 120 all sound off, 121 reset controllers, 123 all notes off, 126/127 mono/poly."""
        self._s.control_change(_int_in("cc", cc, 0, 127), _int_in("value", value, 0, 127), _offset(offset))

    def pitch_bend(self, value: int, offset: int = 0) -> None:
        """14-bit pitch bend 0..16383, centre 8192 (the DX7 uses the top 7 bits)."""
        self._s.pitch_bend(_int_in("pitch bend", value, 0, 16383), _offset(offset))

    def channel_pressure(self, value: int, offset: int = 0) -> None:
        self._s.channel_pressure(_int_in("pressure", value, 0, 127), _offset(offset))

    def sysex(self, data: Union[bytes, Iterable[int]], offset: int = 0) -> None:
        """A DX7 sysex message F0 43 ... F7: single-voice dump or voice/function parameter change."""
        b = _byte_string("sysex", data)
        if len(b) < 2 or b[0] != 0xF0:
            raise ValueError("sysex: a message must start with F0")
        if len(b) > 1024:
            raise ValueError(f"sysex: message too long ({len(b)} bytes, max 1024)")
        self._s.sysex(b, _offset(offset))

    def midi(self, message: Union[bytes, Iterable[int]], offset: int = 0) -> None:
        """Any MIDI message as bytes (channel messages are filtered by :meth:`set_channel`)."""
        b = _byte_string("midi", message)
        if not b:
            raise ValueError("midi: empty message")
        if b[0] < 0x80:
            raise ValueError(f"midi: first byte must be a status byte (>= 0x80), got 0x{b[0]:02X}")
        self._s.midi(b, _offset(offset))

    # -- rendering -----------------------------------------------------------------------------
    def render(self, frames: int) -> np.ndarray:
        """Render ``frames`` frames of mono float32 audio (events applied at their offsets)."""
        return self._s.render(_int_in("frames", frames, 0, 2**31 - 1))

    def render_into(self, out: np.ndarray) -> None:
        """Render ``len(out)`` frames into a writable, C-contiguous 1-D float32 array."""
        if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.ndim != 1:
            raise ValueError("render_into: out must be a 1-D numpy float32 array")
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError("render_into: out must be C-contiguous and writable")
        self._s.render_into(out)

    def reset(self, seed: int = 0) -> None:
        """Power-on state (voices silent, controllers reset, queued events dropped); keeps the voice,
        function parameters, master tune and channel. ``seed`` sets the free-running oscillator
        phases and the sample-and-hold generator."""
        self._s.reset(_int_in("seed", seed, 0, 2**64 - 1))

    def active_voices(self) -> int:
        """Voices with a key held, sustained, or still sounding."""
        return self._s.active_voices()

    # -- pickling ------------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "polyphony": self.polyphony,
            "voice": self._s.voice_data(),
            "functions": {p: self._s.function(p) for p in FUNCTION_PARAMETERS},
            "master_tune": self._s.master_tune,
            "channel": self._s.channel,
        }

    def __setstate__(self, state: dict) -> None:
        self._s = _engine.Synth(float(state["sample_rate"]), int(state["polyphony"]))
        self._s.load_voice(bytes(state["voice"]))
        for p, v in state["functions"].items():
            self._s.set_function(int(p), int(v))
        self._s.set_master_tune(int(state["master_tune"]))
        self._s.set_channel(int(state["channel"]))
        self._s.reset(0)

    def __repr__(self) -> str:
        return f"Synth(sample_rate={self.sample_rate:g}, polyphony={self.polyphony})"


def render_note(
    voice: VoiceLike,
    note: int = 60,
    velocity: int = 100,
    note_duration: float = 1.0,
    duration: float = 2.0,
    sample_rate: float = 48000,
    seed: int = 0,
) -> np.ndarray:
    """Render one note from a freshly reset engine: key down at 0, key up at ``note_duration``
    seconds, ``duration`` seconds in all. Returns float32 mono audio."""
    b = voice_bytes(voice)
    note = _int_in("note", note, 0, 127)
    velocity = _int_in("velocity", velocity, 1, 127)
    for name, v in (("note_duration", note_duration), ("duration", duration)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be a finite number of seconds >= 0, got {v!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real) or not 8000 <= sample_rate <= 192000:
        raise ValueError(f"sample_rate must be between 8000 and 192000 Hz, got {sample_rate!r}")
    total = int(round(float(duration) * sample_rate))
    if total > 2**31 - 1:
        raise ValueError(f"duration too long ({duration} s)")
    hold = int(round(float(note_duration) * sample_rate))
    voices = np.frombuffer(b[:155], dtype=np.uint8).reshape(1, 155)
    audio = _engine.render_batch(
        voices,
        np.array([note], np.int32),
        np.array([velocity], np.int32),
        np.array([hold], np.int64),
        total,
        float(sample_rate),
        seeds=np.array([_int_in("seed", seed, 0, 2**64 - 1)], np.uint64),
        threads=1,
    )
    return audio[0]
