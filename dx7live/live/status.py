"""The terminal status display of ``dx7live play``, and its keys.

On a terminal: a few lines redrawn ten times a second, and single-key commands
(right/+ next voice, left/- previous voice, space or p panic, q quit). Elsewhere (output piped,
a service): one plain line every few seconds and whenever the voice changes.
"""
from __future__ import annotations

import contextlib
import os
import select
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, TextIO

KEYS_HELP = "keys: <- -  previous voice | -> +  next voice | space/p  panic | q  quit"


def format_status(st: Dict[str, Any], now: float) -> List[str]:
    """The display lines for one status snapshot (pure: used by the display and by tests)."""
    voice = f"{st.get('program', 0) + 1:>2} {st.get('voice', ''):<10}"
    bank = st.get("bank", "?")
    if st.get("banks", 1) > 1:
        bank = f"{bank} [{st.get('bank_index', 0) + 1}/{st['banks']}]"
    lines = [f"voice {voice}  bank {bank}"]
    if "midi_port" in st:
        active = st.get("midi_last_time", 0.0) and now - st["midi_last_time"] < 0.25
        state = "" if st.get("midi_connected", True) else "  (disconnected, waiting)"
        last = " ".join(f"{b:02X}" for b in (st.get("midi_last") or [])[:3])
        lines.append(f"MIDI  {'*' if active else ' '} {st['midi_port']} ({st.get('midi_api')})  "
                     f"{st.get('midi_messages', 0)} msgs  last [{last}]{state}")
    else:
        lines.append("MIDI    none")
    lines.append(
        f"audio {st.get('device', '?')} ({st.get('hostapi', '?')}) {st.get('sample_rate', 0):.0f} Hz "
        f"block {st.get('block_frames', 0)}  latency {1e3 * st.get('schedule_latency_s', 0.0):.1f} ms")
    lines.append(
        f"voices {st.get('active_voices', 0):>2}  cpu {100 * st.get('load', 0.0):5.1f}%  "
        f"max {1e3 * st.get('max_callback_s', 0.0):5.2f} ms  xruns {st.get('xruns', 0)}  "
        f"late cb {st.get('late_callbacks', 0)}  late ev {st.get('events_late', 0)}  "
        f"peak {st.get('peak', 0.0):4.2f}")
    if "record_path" in st and st.get("sample_rate"):
        lines.append(f"recording {st['record_path']}  {st.get('record_frames', 0) / st['sample_rate']:.1f} s")
    return lines


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    """Single keypresses without Enter or echo; restores the terminal whatever happens."""
    import termios
    import tty

    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def decode_keys(data: bytes) -> List[str]:
    """Key bytes -> commands: 'next', 'prev', 'panic', 'quit'."""
    out = []
    i = 0
    while i < len(data):
        if data[i:i + 3] in (b"\x1b[C", b"\x1bOC"):
            out.append("next")
            i += 3
            continue
        if data[i:i + 3] in (b"\x1b[D", b"\x1bOD"):
            out.append("prev")
            i += 3
            continue
        c = chr(data[i])
        cmd = {"+": "next", "=": "next", "n": "next", "-": "prev", "_": "prev", "b": "prev",
               " ": "panic", "p": "panic", "q": "quit", "Q": "quit"}.get(c)
        if cmd:
            out.append(cmd)
        i += 1
    return out


class StatusDisplay:
    def __init__(self, session: Any, out: TextIO = sys.stdout, interactive: Optional[bool] = None,
                 plain_interval: float = 5.0) -> None:
        self.session = session
        self.out = out
        if interactive is None:
            interactive = sys.stdin.isatty() and out.isatty()
        self.interactive = interactive
        self.plain_interval = plain_interval
        self._printed = 0
        self._notes: List[str] = []

    def note(self, text: str) -> None:
        """A message for the user (device unplugged, bank received, ...)."""
        self._notes.append(text)
        if not self.interactive:
            print(f"dx7live: {text}", file=self.out, flush=True)

    def _command(self, cmd: str) -> bool:
        inst = self.session.instrument
        if cmd == "next":
            inst.step_program(1)
        elif cmd == "prev":
            inst.step_program(-1)
        elif cmd == "panic":
            inst.panic()
            self.note("panic: all notes off")
        elif cmd == "quit":
            return False
        return True

    def _draw(self) -> None:
        lines = format_status(self.session.status(), time.monotonic_ns() * 1e-9)
        if self._notes:
            lines.append(self._notes[-1][:100])
        lines.append(KEYS_HELP)
        buf = []
        if self._printed:
            buf.append(f"\x1b[{self._printed}F")
        for ln in lines:
            buf.append("\x1b[2K" + ln + "\n")
        self.out.write("".join(buf))
        self.out.flush()
        self._printed = len(lines)

    def run(self) -> None:
        """Until q (or Ctrl-C / SIGTERM, which the caller turns into KeyboardInterrupt)."""
        if not self.interactive:
            self._run_plain()
            return
        fd = sys.stdin.fileno()
        self.out.write("\x1b[?25l")  # hide the cursor while redrawing
        try:
            with _cbreak(fd):
                while True:
                    self._draw()
                    r, _, _ = select.select([fd], [], [], 0.1)
                    if r:
                        for cmd in decode_keys(os.read(fd, 64)):
                            if not self._command(cmd):
                                return
        finally:
            self.out.write("\x1b[?25h")
            self.out.flush()

    def _run_plain(self) -> None:
        last_voice = None
        next_line = 0.0
        while True:
            st = self.session.status()
            now = time.monotonic()
            voice = (st.get("bank"), st.get("program"), st.get("voice"))
            if voice != last_voice or now >= next_line:
                print(" | ".join(format_status(st, time.monotonic_ns() * 1e-9)), file=self.out, flush=True)
                last_voice = voice
                next_line = now + self.plain_interval
            time.sleep(0.1)
