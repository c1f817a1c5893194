"""A harness for testing the live path for real on a machine without a sound card.

Used by ``tests/live/test_live_jack.py`` and ``bench/soak.py``; not needed to play.

* :class:`JackServer` — a private ``jackd -d dummy`` server (unique name, never auto-started
  clients), stopped and cleaned up on exit.
* :func:`start_player` — ``python -m dx7live play`` in its own process group on that server.
* :class:`Probe` — a JACK client that sends MIDI at exact frames (its own MIDI output port, so the
  send time of each event is known to the sample) and captures the player's output, stamped with
  JACK frame times; it also counts the server's xruns.
* Small signal helpers: frequency of the strongest partial, onset detection, a pure-sine voice.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

PLAYER_AUDIO = "dx7live"
PLAYER_MIDI = "dx7live-midi"


class HarnessError(RuntimeError):
    pass


def jackd_path() -> Optional[str]:
    return shutil.which("jackd")


def _die_with_parent() -> None:
    # children get SIGTERM if the test process dies, even by SIGKILL: no orphaned jackd
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_process(proc: Optional[subprocess.Popen], grace: float = 5.0) -> None:
    """SIGTERM the process (group), then SIGKILL it if it does not leave within ``grace``."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class JackServer:
    """``jackd -n NAME -d dummy -r RATE -p PERIOD`` for the duration of a ``with`` block."""

    def __init__(self, rate: int = 48000, period: int = 128, realtime: bool = True,
                 logdir: Optional[str] = None) -> None:
        self.rate, self.period, self.realtime = rate, period, realtime
        self.name = f"dx7t{os.getpid()}x{int(time.monotonic() * 1000) % 100000}"
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_START_SERVER="1")
        self.logdir = logdir or f"/tmp/{self.name}"
        self.proc: Optional[subprocess.Popen] = None

    def __enter__(self) -> "JackServer":
        import jack

        os.makedirs(self.logdir, exist_ok=True)
        self.log = open(os.path.join(self.logdir, "jackd.log"), "w")
        cmd = ["jackd", "-n", self.name] + ([] if self.realtime else ["-r"]) + \
              ["-d", "dummy", "-r", str(self.rate), "-p", str(self.period)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
                                     preexec_fn=lambda: (os.setpgrp(), _die_with_parent()))
        jack.set_error_function(lambda m: None)  # "cannot connect" while the server starts
        jack.set_info_function(lambda m: None)
        t0 = time.monotonic()
        try:
            while True:
                if self.proc.poll() is not None:
                    raise HarnessError(f"jackd exited with {self.proc.returncode}; see {self.log.name}")
                try:
                    c = jack.Client("dx7t-probe", servername=self.name, no_start_server=True)
                    c.close()
                    break
                except jack.JackOpenError:
                    if time.monotonic() - t0 > 10:
                        raise HarnessError("jackd did not accept clients within 10 s")
                    time.sleep(0.05)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        finally:
            jack.set_error_function(None)
        return self

    def xrun_lines(self) -> int:
        """XRuns jackd logged (its own view, for every client)."""
        try:
            with open(os.path.join(self.logdir, "jackd.log")) as f:
                return f.read().count("XRun")
        except OSError:
            return 0

    def __exit__(self, *exc) -> None:
        stop_process(self.proc)
        for f in glob.glob(f"/dev/shm/jack_sem.*_{self.name}_*"):
            with contextlib.suppress(OSError):
                os.unlink(f)
        self.log.close()


def start_player(server: JackServer, args: Sequence[str], log_path: str, timeout: float = 30.0,
                 command: Optional[Sequence[str]] = None) -> Tuple[subprocess.Popen, str]:
    """Start ``python -m dx7live play --plain ARGS`` (or ``command + ['play', '--plain'] + ARGS``) on the
    server; returns (process, its 'playing' line)."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(server.env, PYTHONPATH=repo + os.pathsep + server.env.get("PYTHONPATH", ""),
               PYTHONUNBUFFERED="1")
    cmd = list(command or [sys.executable, "-m", "dx7live"]) + ["play", "--plain"] + list(args)
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
                            env=env, cwd=repo, preexec_fn=lambda: (os.setpgrp(), _die_with_parent()))
    t0 = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - t0)
        r, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
        if not r:
            stop_process(proc)
            raise HarnessError(f"dx7live play did not start within {timeout} s (see {log_path})")
        line = proc.stdout.readline()
        if not line:
            proc.wait(5)
            raise HarnessError(f"dx7live play exited with {proc.returncode}: {open(log_path).read()[-2000:]}")
        if line.startswith("dx7live: playing"):
            return proc, line.strip()


def stop_player(proc: subprocess.Popen, timeout: float = 10.0) -> Dict:
    """SIGTERM the player (a clean stop) and return its final statistics."""
    stats: Dict = {}
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc, 0.1)
        raise HarnessError("dx7live play did not stop on SIGTERM")
    for line in out.splitlines():
        if line.startswith("stats "):
            stats = json.loads(line[6:])
    stats["returncode"] = proc.returncode
    stats["output"] = out
    return stats


class Probe:
    """A JACK client that plays MIDI into the player at exact frames and records its output."""

    def __init__(self, server: JackServer, seconds: float = 30.0, name: str = "dx7t-probe") -> None:
        import jack

        self.client = jack.Client(name, servername=server.name, no_start_server=True)
        self.rate = self.client.samplerate
        self.period = self.client.blocksize
        self.audio_in = self.client.inports.register("in")
        self.midi_out = self.client.midi_outports.register("out")
        self.capture = np.zeros(int(seconds * self.rate) + self.period, np.float32)
        self.captured = np.zeros(len(self.capture) // self.period + 2, bool)
        self.start_frame: Optional[int] = None
        self.events: List[Tuple[int, bytes]] = []   # (absolute frame, message), appended in order
        self._next = 0
        self.sent: List[Tuple[int, bytes]] = []
        self.xruns = 0
        self.errors: List[str] = []
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)

    def _xrun(self, delay):
        self.xruns += 1

    def _process(self, frames: int) -> None:
        self.midi_out.clear_buffer()
        now = self.client.last_frame_time
        ev = self.events
        while self._next < len(ev) and ev[self._next][0] < now + frames:
            frame, msg = ev[self._next]
            offset = max(0, frame - now)
            try:
                self.midi_out.write_midi_event(offset, msg)
                self.sent.append((now + offset, msg))
            except Exception as exc:  # buffer full: say so, do not crash the callback
                self.errors.append(f"{frame}: {exc}")
            self._next += 1
        s = self.start_frame
        if s is not None:
            off = now - s
            if 0 <= off and off + frames <= len(self.capture):
                self.capture[off:off + frames] = self.audio_in.get_array()
                self.captured[off // self.period] = True

    def connect(self, timeout: float = 10.0, midi: bool = True) -> None:
        """Activate, and wire MIDI out -> dx7live-midi:in (unless ``midi`` is False: the player
        connects itself) and dx7live:out_0 -> our input."""
        self.client.activate()
        t0 = time.monotonic()
        while True:
            names = [p.name for p in self.client.get_ports()]
            midi_in = [p.name for p in self.client.get_ports(is_midi=True, is_input=True)
                       if p.name.startswith(PLAYER_AUDIO)]
            if midi_in and f"{PLAYER_AUDIO}:out_0" in names:
                break
            if time.monotonic() - t0 > timeout:
                raise HarnessError(f"player ports not found; ports: {names}")
            time.sleep(0.05)
        if midi:  # the player's MIDI input: dx7live:midi_in (native client) or dx7live-midi:in
            self.client.connect(self.midi_out, midi_in[0])
        self.client.connect(f"{PLAYER_AUDIO}:out_0", self.audio_in)
        time.sleep(0.2)

    def start_capture(self, lead: float = 0.05) -> int:
        """Start recording a little ahead; returns the frame of capture index 0."""
        p = self.period
        start = self.client.frame_time + int(lead * self.rate)
        start -= start % p
        self.start_frame = start
        while self.client.last_frame_time < start:
            time.sleep(0.002)
        return start

    def schedule(self, at_s: float, msg: Sequence[int]) -> int:
        """Send ``msg`` at capture time ``at_s`` (seconds from the capture start); returns its frame.
        Events must be scheduled in time order and ahead of the clock."""
        frame = self.start_frame + int(round(at_s * self.rate))
        self.events.append((frame, bytes(msg)))
        return frame

    def now_s(self) -> float:
        return (self.client.frame_time - self.start_frame) / self.rate

    def wait_until(self, at_s: float) -> None:
        while self.now_s() < at_s:
            time.sleep(0.005)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.deactivate()
        with contextlib.suppress(Exception):
            self.client.close()

    def recorded(self, end_s: float) -> np.ndarray:
        return self.capture[:int(end_s * self.rate)]

    def frame_index(self, frame: int) -> int:
        return frame - self.start_frame


# ---- signal helpers ----------------------------------------------------------------------------
def strongest_partials(x: np.ndarray, rate: float, k: int = 1, fmin: float = 20.0) -> List[float]:
    """Frequencies (Hz) of the k strongest spectral peaks, parabolic interpolation on log magnitude."""
    nfft = 1 << int(np.ceil(np.log2(len(x) * 8)))
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x)), nfft)) + 1e-12
    logm = np.log(mag)
    lo = int(fmin * nfft / rate)
    work = mag.copy()
    work[:lo] = 0
    found = []
    for _ in range(k):
        i = int(np.argmax(work[1:-1])) + 1
        a, b, c = logm[i - 1], logm[i], logm[i + 1]
        den = a - 2 * b + c
        found.append((i + (0.5 * (a - c) / den if den else 0.0)) * rate / nfft)
        w = int(4 * nfft / len(x)) + 2
        work[max(0, i - w):i + w + 1] = 0
    return found


def onset(x: np.ndarray, threshold: float) -> Optional[int]:
    """Index of the first sample whose magnitude exceeds ``threshold``."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    return int(idx[0]) if len(idx) else None


def cents(f: float, ref: float) -> float:
    return 1200.0 * float(np.log2(f / ref))


def sine_voice(name: str = "SINE", coarse: int = 1, fine: int = 0, level: int = 99, release: int = 99) -> bytes:
    """A 155-byte VCED voice (fact sheet §1.5): algorithm 32, only OP1 sounding, a sine at
    ratio coarse+fine/100 (coarse 0 = 0.5), instant attack, fast release."""
    v = bytearray(155)
    for op in range(6):  # operator blocks, OP6 first
        b = 21 * op
        v[b:b + 4] = bytes([99, 99, 99, release])      # EG rates
        v[b + 4:b + 8] = bytes([99, 99, 99, 0])        # EG levels
        v[b + 8] = 39                                    # break point C3
        v[b + 15] = 0                                    # no velocity sensitivity
        v[b + 18] = 1                                    # coarse 1
        v[b + 20] = 7                                    # detune centre
        v[b + 16] = 0                                    # silent ...
    op1 = 21 * 5
    v[op1 + 16] = level                                  # ... except OP1
    v[op1 + 18] = coarse
    v[op1 + 19] = fine
    v[126:130] = bytes([99, 99, 99, 99])                # pitch EG rates
    v[130:134] = bytes([50, 50, 50, 50])                # pitch EG levels: no offset
    v[134] = 31                                          # algorithm 32
    v[136] = 1                                           # oscillator key sync
    v[137] = 35                                          # LFO speed
    v[143] = 0                                           # no pitch-mod sensitivity
    v[144] = 24                                          # transpose: none
    v[145:155] = name.ljust(10)[:10].encode("ascii")
    return bytes(v)


def bank_sysex(voices: Sequence[bytes], channel: int = 0) -> bytes:
    """A 4104-byte 32-voice bulk dump (§1.2) of up to 32 VCED voices (the rest: copies of the first)."""
    from dx7live.patch.voice import pack_vced

    vs = list(voices) + [voices[0]] * (32 - len(voices))
    packed = pack_vced(np.frombuffer(b"".join(vs[:32]), np.uint8).reshape(32, 155)).astype(np.uint8)
    data = packed.tobytes()
    cs = (-sum(data)) & 0x7F
    return bytes([0xF0, 0x43, channel & 0x0F, 0x09, 0x20, 0x00]) + data + bytes([cs, 0xF7])


def run_background(fn, *args) -> threading.Thread:
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t
