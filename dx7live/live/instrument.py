"""The instrument: banks, program and bank select, sysex, all off the audio thread.

Every MIDI message from the poller comes here first. Channel messages the engine understands
(notes, controllers, pitch bend, aftertouch, mono/poly) and short sysex (voice and function
parameter changes, DX7 fact sheet §1.6) go straight into the native queue with their arrival time.
What needs Python is handled here and reaches the audio thread only as ready-made commands:

* program change -> "load these 155 VCED bytes" (the voice of the current bank);
* bank select CC0/CC32 -> which loaded bank the next program change reads from;
* a 32-voice bulk dump (§1.2) -> replaces the current bank, and the current program is reloaded
  from it so the new sound is heard at once;
* a single-voice dump (§1.3) -> loaded into the edit buffer;
* a performance/function dump (format 1, §1.3) -> function parameters.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import numpy as np

YAMAHA = 0x43
VCED_SIZE = 155


def voice_name(vced: np.ndarray) -> str:
    """The 10-character name of a VCED voice (parameters 145..154) as the DX7 shows it."""
    chars = []
    for c in bytes(np.asarray(vced[145:155], dtype=np.uint8)):
        c &= 0x7F
        chars.append({0x5C: "Y", 0x7E: ">", 0x7F: "<"}.get(c, chr(c) if c >= 32 else " "))
    return "".join(chars).rstrip()


def checksum_ok(data: bytes, cs: int) -> bool:
    """DX7 checksum (§1.2): (sum of data + cs) & 0x7F == 0."""
    return (sum(data) + cs) & 0x7F == 0


@dataclass
class LoadedBank:
    name: str
    vced: np.ndarray  # uint8 [N, 155]
    names: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.vced = np.ascontiguousarray(self.vced, dtype=np.uint8).reshape(-1, VCED_SIZE)
        if len(self.vced) == 0:
            raise ValueError(f"bank {self.name!r} has no voices")
        self.names = [voice_name(v) for v in self.vced]


class Instrument:
    """Routes MIDI to the native host and keeps the player-facing state (banks, program, names).

    ``host`` is a ``dx7live._live.Host`` (or anything with push_midi/push_voice/push_function/
    push_panic). ``channel``: receive channel 0..15, or None for omni. ``on_message`` receives
    short human-readable notes for the status line (bank received, bad sysex, ...).
    """

    def __init__(self, host: Any, banks: List[LoadedBank], *, channel: Optional[int] = None,
                 program: int = 0, on_message: Optional[Callable[[str], None]] = None) -> None:
        if not banks:
            raise ValueError("at least one bank is needed")
        self.host = host
        self.banks = list(banks)
        self.channel = channel
        self.on_message = on_message or (lambda s: None)
        self.bank_index = 0
        self.program = 0
        self.edit_name = ""
        self._bank_msb = 0
        self._bank_lsb = 0
        self._lock = threading.Lock()  # the poller and the keyboard thread both change programs
        self.select_program(program, time=0.0)

    # ---- player-facing state ----------------------------------------------------------------
    @property
    def bank(self) -> LoadedBank:
        return self.banks[self.bank_index]

    def select_program(self, program: int, time: float = -1.0) -> None:
        """Load voice ``program`` (wrapping around the bank's size) of the current bank."""
        with self._lock:
            bank = self.bank
            self.program = int(program) % len(bank.vced)
            self.host.push_voice(bank.vced[self.program].tobytes(), time)
            self.edit_name = bank.names[self.program]

    def step_program(self, step: int) -> None:
        """Next/previous voice (for the keyboard keys); steps into the next/previous bank at the ends."""
        with self._lock:
            p = self.program + step
            if p >= len(self.bank.vced) or p < 0:
                self.bank_index = (self.bank_index + (1 if p > 0 else -1)) % len(self.banks)
                p = 0 if p > 0 else len(self.bank.vced) - 1
        self.select_program(p)

    def select_bank(self, index: int) -> bool:
        with self._lock:
            if not 0 <= index < len(self.banks):
                self.on_message(f"bank {index} not loaded (have {len(self.banks)})")
                return False
            self.bank_index = index
            return True

    def panic(self) -> None:
        self.host.push_panic()

    # ---- MIDI in (called by the poller thread) --------------------------------------------------
    def _on_channel(self, status: int) -> bool:
        return self.channel is None or (status & 0x0F) == self.channel

    def handle(self, message: List[int], time: float) -> None:
        """One MIDI message with its arrival time on the host clock."""
        if not message:
            return
        status = message[0]
        if status == 0xF0:
            self.handle_sysex(bytes(message), time)
            return
        kind = status & 0xF0
        if kind == 0xC0 and len(message) >= 2:
            if self._on_channel(status):
                bank = (self._bank_msb << 7) | self._bank_lsb
                if bank != self.bank_index and len(self.banks) > 1:
                    self.select_bank(bank)
                self.select_program(message[1], time)
            return
        if kind == 0xB0 and len(message) >= 3 and message[1] in (0, 32):
            if self._on_channel(status):
                if message[1] == 0:
                    self._bank_msb = message[2]
                else:
                    self._bank_lsb = message[2]
            return
        if status >= 0xF8 or kind < 0x80:
            return  # real-time bytes and stray data never reach the engine
        self.host.push_midi(bytes(message[:3]), time)

    def handle_sysex(self, data: bytes, time: float) -> None:
        """A complete F0..F7 message."""
        if len(data) < 4 or data[1] != YAMAHA or data[-1] != 0xF7:
            return  # not for a DX7
        sub, n = data[2] >> 4, data[2] & 0x0F
        if self.channel is not None and n != self.channel:
            return  # the DX7 only accepts its own device number (§1.1)
        if sub == 1 and len(data) == 7:
            self.host.push_midi(data, time)  # parameter change: the engine applies it as a DX7 does
            if data[3] & 0x7C == 0 and ((data[3] & 3) << 7 | data[4]) in range(145, 155):
                self.edit_name = self._patched_name(((data[3] & 3) << 7 | data[4]) - 145, data[5])
            return
        if sub != 0 or len(data) < 8:
            return  # dump requests etc.: the DX7 Mk I ignores them (§1.1)
        fmt = data[3]
        count = (data[4] << 7) | data[5]
        body = data[6:-2]
        if fmt == 9:
            self._receive_bank(body, data[-2], time)
        elif fmt == 0 and len(body) == VCED_SIZE:
            if not checksum_ok(body, data[-2]):
                self.on_message("voice dump checksum mismatch; loaded anyway")
            with self._lock:
                self.host.push_voice(body, time)
                self.edit_name = voice_name(np.frombuffer(body, np.uint8))
            self.on_message(f"voice received: {self.edit_name}")
        elif fmt == 1 and len(body) == 94:
            self._receive_function_block(body, time)
        else:
            self.on_message(f"sysex format {fmt} with {len(body)} bytes (count {count}) ignored")

    def _patched_name(self, index: int, value: int) -> str:
        name = list(self.edit_name.ljust(10))
        name[index] = chr(value & 0x7F) if 32 <= (value & 0x7F) < 127 else " "
        return "".join(name).rstrip()

    def _receive_bank(self, body: bytes, cs: int, time: float) -> None:
        from dx7live.patch.voice import unpack_packed

        if len(body) != 4096:
            self.on_message(f"bulk dump with {len(body)} data bytes (expected 4096) ignored")
            return
        if not checksum_ok(body, cs):
            self.on_message("bank checksum mismatch; loaded anyway (as the DX7 does)")
        packed = np.frombuffer(body, np.uint8).reshape(32, 128)
        bank = LoadedBank("received bank", unpack_packed(packed))
        with self._lock:
            self.banks[self.bank_index] = bank
        self.select_program(self.program, time)
        self.on_message(f"bank received: {', '.join(bank.names[:4])}, ...")

    # §1.3 format 1: offset in the 94-byte block -> function parameter; sensitivities 0..15 are
    # scaled to 0..99 by (v*212*8)>>8 as the firmware does.
    _FUNCTION_BLOCK = {2: 64, 3: 65, 4: 66, 7: 67, 6: 68, 5: 69, 9: 70, 10: 71, 11: 72, 12: 73,
                       15: 74, 16: 75, 13: 76, 14: 77}
    _SENSITIVITIES = {9, 11, 13, 15}

    def _receive_function_block(self, body: bytes, time: float) -> None:
        for offset, param in self._FUNCTION_BLOCK.items():
            value = body[offset]
            if offset in self._SENSITIVITIES:
                value = (value * 212 * 8) >> 8
            self.host.push_function(param, value, time)
        self.on_message("function parameters received")
