"""The annotated recording: the performance as a WAV file, its MIDI events as JSON lines beside it.

The audio callback copies what it renders into a lock-free ring and logs every event it applies,
with the exact frame, into another; this thread drains both, so the WAV and the event frames agree
sample for sample. Both files are written through ``dx7live._io.atomic_path`` (a temporary file
renamed into place when the recording ends), so an interrupted run never leaves half a file.

Each JSON line: ``{"frame": F, "time": F / sample_rate, "kind": "note_on", "midi": [144, 60, 100],
"late": false}``; program changes appear as ``{"kind": "voice", "name": "..."}``.
"""
from __future__ import annotations

import contextlib
import json
import threading
import wave
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from dx7live import _io

_MIDI_KINDS = {0x80: "note_off", 0x90: "note_on", 0xA0: "poly_pressure", 0xB0: "control_change",
               0xC0: "program_change", 0xD0: "channel_pressure", 0xE0: "pitch_bend"}


def events_path(wav_path: Path) -> Path:
    """Where the MIDI events of a recording go: ``take.wav`` -> ``take.midi.jsonl``."""
    return wav_path.with_suffix(".midi.jsonl")


def describe(entry: Dict[str, Any], sample_rate: float) -> Dict[str, Any]:
    """One applied-event log entry from the host as a JSON-ready record."""
    frame = int(entry["frame"])
    rec: Dict[str, Any] = {"frame": frame, "time": round(frame / sample_rate, 6), "kind": entry["kind"]}
    data = entry["data"]
    if entry["kind"] == "midi":
        status = data[0] if data else 0
        if status == 0xF0:
            rec["kind"] = "sysex"
            rec["length"] = int(entry["a"])
            rec["head"] = list(data)
        else:
            kind = _MIDI_KINDS.get(status & 0xF0, "midi")
            if kind == "note_on" and len(data) >= 3 and data[2] == 0:
                kind = "note_off"
            rec["kind"] = kind
            rec["channel"] = status & 0x0F
            rec["midi"] = list(data)
    elif entry["kind"] == "voice":
        rec["name"] = bytes(b & 0x7F for b in data).decode("ascii", "replace").rstrip()
    else:
        rec["a"], rec["b"] = int(entry["a"]), int(entry["b"])
    if entry["late"]:
        rec["late"] = True
    return rec


class Recorder:
    """Drains a host's recording rings into ``wav_path`` and ``events_path(wav_path)``."""

    def __init__(self, host: Any, wav_path: str, sample_rate: float) -> None:
        self.host = host
        self.wav_path = Path(wav_path)
        self.jsonl_path = events_path(self.wav_path)
        self.sample_rate = sample_rate
        self.frames = 0
        self.events = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._stack = contextlib.ExitStack()
        tmp_wav = self._stack.enter_context(_io.atomic_path(self.wav_path))
        tmp_jsonl = self._stack.enter_context(_io.atomic_path(self.jsonl_path))
        self._wav = wave.open(str(tmp_wav), "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(int(round(sample_rate)))
        self._jsonl = open(tmp_jsonl, "w", encoding="utf-8")

    def start(self) -> None:
        self.host.set_recording(True)
        self._thread = threading.Thread(target=self._run, name="dx7live-record", daemon=True)
        self._thread.start()

    def _drain(self) -> int:
        got = 0
        while True:
            audio = self.host.read_audio(1 << 15)
            if len(audio) == 0:
                break
            pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
            self._wav.writeframes(pcm.tobytes())
            self.frames += len(audio)
            got += len(audio)
        lines: List[str] = []
        for entry in self.host.read_log(4096):
            lines.append(json.dumps(describe(entry, self.sample_rate)))
        if lines:
            self._jsonl.write("\n".join(lines) + "\n")
            self.events += len(lines)
        return got

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._drain()

    def close(self, keep: bool = True) -> None:
        """Stop recording, drain what is left and move both files into place (or discard them)."""
        self.host.set_recording(False)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self._drain()
        self._wav.close()
        self._jsonl.close()
        if keep:
            self._stack.close()
        else:  # make atomic_path delete the temporary files
            err = RuntimeError("recording discarded")
            with contextlib.suppress(RuntimeError):
                self._stack.__exit__(RuntimeError, err, None)
