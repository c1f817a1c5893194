"""MIDI input for live play: port and API selection, a polling thread, reconnection.

Why polling: python-rtmidi's (and mido's) input *callbacks* run Python inside the MIDI driver's
real-time thread; on JACK they lose or duplicate messages whenever another Python thread is busy.
Polling ``MidiIn.get_message()`` from our own thread delivered every message in every test, so this
module never installs an rtmidi callback.

Timestamps: RtMidi gives each message the time since the previous one, measured by the MIDI driver
when the message arrived (not when we polled it). :class:`ArrivalClock` turns these deltas into
absolute times on the host clock (``dx7live._live.now``), so a message that waited in rtmidi's queue
for a millisecond is still scheduled from its true arrival time.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

from dx7live.live._quiet import quiet_stderr

API_NAMES = {"alsa": "API_LINUX_ALSA", "jack": "API_UNIX_JACK"}
QUEUE_SIZE = 16384          # rtmidi's input queue, in messages (bursts must never overflow it)
POLL_INTERVAL = 0.0005      # seconds between polls when idle
PORT_CHECK_INTERVAL = 1.0   # seconds between checks that the opened port still exists


class MidiError(RuntimeError):
    """No usable MIDI input (no API, no port, port not found). The message says what to do."""


def _api_constant(name: str) -> int:
    import rtmidi

    return getattr(rtmidi, API_NAMES[name])


def api_order(requested: str) -> List[str]:
    """The MIDI APIs to try, in order: one if requested, else ALSA then JACK."""
    requested = requested.lower()
    if requested == "auto":
        return ["alsa", "jack"]
    if requested not in API_NAMES:
        raise MidiError(f"unknown MIDI API {requested!r}: choose one of auto, {', '.join(API_NAMES)}")
    return [requested]


def create_midi_in(api: str = "auto", client_name: str = "dx7live") -> Tuple["object", str]:
    """A ``rtmidi.MidiIn`` on the first API that works (ALSA, else JACK when a server runs).

    Returns ``(midi_in, api_name)``; raises :class:`MidiError` naming every API tried and why it failed.
    """
    import rtmidi

    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never start a JACK server behind the user's back
    errors = []
    compiled = set(rtmidi.get_compiled_api())
    for name in api_order(api):
        const = _api_constant(name)
        if const not in compiled:
            errors.append(f"{name}: not compiled into python-rtmidi")
            continue
        try:
            with quiet_stderr():
                midi_in = rtmidi.MidiIn(const, name=client_name, queue_size_limit=QUEUE_SIZE)
        except Exception as exc:  # rtmidi raises its own SystemError subclasses
            why = "no ALSA sequencer (/dev/snd/seq)" if name == "alsa" else "no JACK server running"
            errors.append(f"{name}: {why} ({exc})")
            continue
        # keep sysex (voice dumps, parameter changes); drop clock and active sensing
        midi_in.ignore_types(sysex=False, timing=True, active_sense=True)
        return midi_in, name
    raise MidiError("no MIDI input API available: " + "; ".join(errors))


def list_ports(api: str = "auto", unavailable: Optional[List[str]] = None) -> List[Tuple[str, List[str]]]:
    """``[(api_name, [port names])]`` for every MIDI API that works here; the reasons the others
    do not are appended to ``unavailable`` when given."""
    out = []
    for name in api_order(api):
        try:
            midi_in, _ = create_midi_in(name, client_name="dx7live-devices")
        except MidiError as exc:
            if unavailable is not None:
                unavailable.append(str(exc).replace("no MIDI input API available: ", ""))
            continue
        try:
            out.append((name, list(midi_in.get_ports())))
        finally:
            midi_in.delete()
    return out


def find_port(ports: Sequence[str], wanted: Optional[str]) -> Optional[int]:
    """Index of the port to open: an exact name, else a number (index), else a case-insensitive substring.

    ``wanted=None`` picks the first port that is not one of our own (dx7live's) ports.
    """
    if wanted is None:
        for i, p in enumerate(ports):
            if not p.lower().startswith(("dx7live", "midi through", "midi-through")):
                return i
        for i, p in enumerate(ports):
            if not p.lower().startswith("dx7live"):
                return i
        return None
    if wanted in ports:
        return list(ports).index(wanted)
    if wanted.isdigit():  # a number is a port index (as `dx7live devices` lists them)
        return int(wanted) if int(wanted) < len(ports) else None
    low = wanted.lower()
    for i, p in enumerate(ports):
        if low in p.lower():
            return i
    return None


class ArrivalClock:
    """Absolute arrival times (host clock) from RtMidi's inter-message deltas.

    ``stamp(delta, polled_at)``: the arrival time of a message is ``cum + offset``, where ``cum`` is
    the running sum of deltas (the driver's clock) and ``offset`` the driver clock's origin on the
    host clock. Every poll bounds the origin from above (a message cannot arrive after it is
    polled): ``offset <= polled_at - cum``; the smallest bound seen is the estimate, and it only
    ever improves, so stamps do not jitter with the polling. If the two clocks drift apart (the
    bound keeps exceeding the estimate by more than ``drift_limit``), the estimate is re-based.
    """

    def __init__(self, drift_limit: float = 0.02, drift_count: int = 32) -> None:
        self.cum: Optional[float] = None
        self.offset: Optional[float] = None
        self.drift_limit = drift_limit
        self.drift_count = drift_count
        self._above: List[float] = []

    def stamp(self, delta: float, polled_at: float) -> float:
        self.cum = 0.0 if self.cum is None else self.cum + max(0.0, float(delta))
        bound = polled_at - self.cum
        if self.offset is None or bound <= self.offset:
            self.offset = bound
            self._above.clear()
        elif bound - self.offset > self.drift_limit:
            self._above.append(bound)
            if len(self._above) >= self.drift_count:  # the driver clock runs slow: re-base
                self.offset = min(self._above)
                self._above.clear()
        else:
            self._above.clear()
        return self.cum + self.offset


Handler = Callable[[List[int], float], None]


class MidiPoller:
    """A thread that polls one MIDI input and hands each message, with its arrival time, to ``handler``.

    ``port``: a port name (exact or substring) or index as text; None = the first available port.
    ``virtual``: open a virtual input port named ``port_name`` instead (sequencers connect to it).
    If the opened port disappears (device unplugged), the poller keeps running, reports it through
    ``on_state`` and reopens the port by name when it comes back.
    """

    def __init__(self, handler: Handler, *, api: str = "auto", port: Optional[str] = None,
                 virtual: bool = False, client_name: str = "dx7live", port_name: str = "in",
                 now: Optional[Callable[[], float]] = None,
                 on_state: Optional[Callable[[str], None]] = None) -> None:
        if now is None:
            from dx7live._live import now as native_now

            now = native_now
        self.handler = handler
        self.now = now
        self.virtual = virtual
        self.wanted = port
        self.port_name = port_name
        self.on_state = on_state or (lambda s: None)
        self.midi_in, self.api = create_midi_in(api, client_name)
        self.opened_name: Optional[str] = None
        self.connected = False
        self.messages = 0
        self.last_message: Optional[List[int]] = None
        self.last_time = 0.0
        self._clock = ArrivalClock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._open()

    # ---- port handling ------------------------------------------------------------------------
    def _open(self) -> None:
        if self.virtual:
            try:
                self.midi_in.open_virtual_port(self.port_name)
            except Exception as exc:
                raise MidiError(f"could not open a virtual MIDI port on {self.api}: {exc}") from None
            self.opened_name = f"{self.port_name} (virtual, {self.api})"
            self.connected = True
            return
        ports = list(self.midi_in.get_ports())
        index = find_port(ports, self.wanted)
        if index is None:
            listing = ", ".join(repr(p) for p in ports) or "none"
            what = f"no MIDI input port matches {self.wanted!r}" if self.wanted else "no MIDI input port found"
            raise MidiError(f"{what} on {self.api} (ports: {listing}). Connect a keyboard, "
                            "pass --midi NAME, or use --virtual and connect a sequencer to dx7live.")
        self.midi_in.open_port(index, self.port_name)
        self.opened_name = ports[index]
        self.connected = True

    def _port_present(self) -> bool:
        return self.opened_name in self.midi_in.get_ports()

    def _check_port(self) -> None:
        """Notice an unplugged device and reopen it by name when it is back."""
        if self.virtual:
            return
        try:
            present = self._port_present()
        except Exception:
            present = False
        if self.connected and not present:
            with contextlib.suppress(Exception):
                self.midi_in.close_port()
            self.connected = False
            self.on_state(f"MIDI port {self.opened_name!r} disappeared; waiting for it to come back")
        elif not self.connected and present:
            ports = list(self.midi_in.get_ports())
            try:
                self.midi_in.open_port(ports.index(self.opened_name), self.port_name)
            except Exception as exc:
                self.on_state(f"could not reopen {self.opened_name!r}: {exc}")
                return
            self._clock = ArrivalClock()  # RtMidi restarts its deltas on a new port
            self.connected = True
            self.on_state(f"MIDI port {self.opened_name!r} reconnected")

    # ---- the polling thread ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dx7live-midi", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        get = self.midi_in.get_message
        now = self.now
        next_check = now() + PORT_CHECK_INTERVAL
        while not self._stop.is_set():
            got = get()
            while got is not None:
                polled = now()  # after get_message returned: never before the arrival
                message, delta = got
                t = self._clock.stamp(delta, polled)
                self.messages += 1
                self.last_message = message
                self.last_time = polled
                try:
                    self.handler(message, t)
                except Exception as exc:  # a bad message must not stop the instrument
                    self.on_state(f"MIDI message {message[:8]} ignored: {exc}")
                got = get()
            t_now = now()
            if t_now >= next_check:
                self._check_port()
                next_check = t_now + PORT_CHECK_INTERVAL
            time.sleep(POLL_INTERVAL)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        with contextlib.suppress(Exception):
            self.midi_in.close_port()
        with contextlib.suppress(Exception):
            self.midi_in.delete()


class NativeJackMidi:
    """JACK MIDI input in native code (``dx7live._live.JackMidiInput``): same interface as
    :class:`MidiPoller`, but notes and controllers never pass through Python.

    JACK's MIDI thread stamps each event with its exact frame time and queues it for the audio
    callback directly; only program change, bank select and sysex are handed to ``handler`` by a
    Python thread (they need the banks), and the events that follow one of those wait in the
    callback until it has been handled, so they never overtake it. ``virtual=True`` leaves the input port unconnected for a
    sequencer to connect to; otherwise ``port`` (name, part of a name, or index among the MIDI
    output ports) or the first MIDI source is connected, and reconnected if it goes away and
    comes back.
    """

    api = "jack"

    def __init__(self, host, handler: Handler, *, port: Optional[str] = None, virtual: bool = False,
                 client_name: str = "dx7live-midi", port_name: str = "in",
                 on_state: Optional[Callable[[str], None]] = None, client: Any = None) -> None:
        from dx7live import _live

        self.host = host
        self.handler = handler
        self.on_state = on_state or (lambda s: None)
        self.virtual = virtual
        self.client_name = client_name
        self.owns_client = client is None  # a client shared with the audio output is closed by its owner
        if client is not None:
            self.input = client
        else:
            try:
                self.input = _live.JackClient(host, client_name, port_name)
            except RuntimeError as exc:
                raise MidiError(f"no JACK MIDI input: {exc}") from None
        self.source: Optional[str] = None
        self.connected = True
        if virtual:
            self.opened_name = f"{self.input.port_name} (connect a sequencer to it)"
        else:
            sources = self._sources()
            index = find_port(sources, port)
            if index is None:
                listing = ", ".join(repr(p) for p in sources) or "none"
                if self.owns_client:
                    self.input.close()
                what = f"no JACK MIDI port matches {port!r}" if port else "no JACK MIDI output port to connect to"
                raise MidiError(f"{what} (ports: {listing}); use --virtual to wait for a connection")
            self.source = sources[index]
            self.connected = self.input.connect_from(self.source)
            self.opened_name = self.source
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _sources(self) -> List[str]:
        return [p for p in self.input.sources() if not p.startswith(self.client_name.split("-")[0])]

    @property
    def messages(self) -> int:
        return self.input.messages

    @property
    def last_message(self) -> List[int]:
        return self.input.last_message

    @property
    def last_time(self) -> float:
        return self.input.last_time

    def start(self) -> None:
        if self.source is not None and not self.connected:
            # a client shared with the audio output can only be connected once it is active
            self.connected = self.input.connect_from(self.source)
        self._thread = threading.Thread(target=self._run, name="dx7live-jack-midi", daemon=True)
        self._thread.start()

    def _check_source(self) -> None:
        if self.input.shut_down:
            if self.connected:
                self.connected = False
                self.on_state("the JACK server went away; MIDI input stopped")  # audio says so too if ours
            return
        self.input.recalibrate()
        if self.source is None:
            return
        present = self.source in self.input.sources()
        if self.connected and not present:
            self.connected = False
            self.on_state(f"MIDI port {self.source!r} disappeared; waiting for it to come back")
        elif not self.connected and present and self.input.connect_from(self.source):
            self.connected = True
            self.on_state(f"MIDI port {self.source!r} reconnected")

    def _run(self) -> None:
        next_check = time.monotonic() + PORT_CHECK_INTERVAL
        while not self._stop.is_set():
            for data, t in self.input.read(256):
                try:
                    self.handler(list(data), t)
                except Exception as exc:
                    self.on_state(f"MIDI message {list(data[:8])} ignored: {exc}")
                finally:
                    self.host.python_done(1)  # the notes queued after it may sound now
            if time.monotonic() >= next_check:
                self._check_source()
                next_check = time.monotonic() + PORT_CHECK_INTERVAL
            time.sleep(0.002)  # only program changes and sysex come this way

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self.owns_client:
            with contextlib.suppress(Exception):
                self.input.close()


def alsa_midi_available() -> bool:
    """True if an ALSA sequencer client can be opened here."""
    try:
        midi_in, _ = create_midi_in("alsa", client_name="dx7live-probe")
    except MidiError:
        return False
    midi_in.delete()
    return True


def open_midi_input(host, handler: Handler, *, api: str = "auto", port: Optional[str] = None,
                    virtual: bool = False, client_name: str = "dx7live-midi",
                    on_state: Optional[Callable[[str], None]] = None, native: bool = True):
    """The MIDI input for live play: ALSA through RtMidi (polled), else JACK natively.

    JACK uses the native input when libjack loads and ``native`` is true (exact timestamps, no
    Python in the note path), RtMidi's JACK API otherwise. Raises :class:`MidiError` naming what
    was tried."""
    from dx7live import _live

    errors = []
    for name in api_order(api):
        if name == "jack" and native and _live.jack_available():
            os.environ.setdefault("JACK_NO_START_SERVER", "1")
            try:
                return NativeJackMidi(host, handler, port=port, virtual=virtual, client_name=client_name,
                                      on_state=on_state)
            except MidiError as exc:
                errors.append(f"jack: {exc}")
                continue
        try:
            return MidiPoller(handler, api=name, port=port, virtual=virtual, client_name=client_name,
                              on_state=on_state)
        except MidiError as exc:
            errors.append(str(exc))
    raise MidiError("; ".join(errors))
