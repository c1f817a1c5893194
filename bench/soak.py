#!/usr/bin/env python3
"""Soak benchmark of the live path on a private JACK server (dummy driver): xruns, callback time,
MIDI-to-audio latency, next to trivial C JACK clients run in the same conditions as the baseline.

    nice python bench/soak.py [--seconds 60] [--periods 64,128] [--rate 48000] [--json FILE]

For each period, five runs of --seconds each, in turn (the machine's load drifts, so the dx7live
runs are bracketed by the baseline):
  base     jack_midisine (a C synth: MIDI in, one sine per note) wired exactly as dx7live is
           (probe MIDI -> client -> probe audio), playing the same chords, with a separate Python
           process running a CPU-bound thread that also provokes the garbage collector
  dx7      `dx7live play` (its own native JACK client) whose own process runs that busy thread
  simple   jack_simple_client (no MIDI input: it only feeds the probe), the issue's reference
  dx7pa    `dx7live play --audio-backend portaudio`, the busy thread inside
  base2    jack_midisine again
The probe is a Python JACK client that sends 16-note chords over JACK MIDI at exact frames (on
period boundaries, as RtMidi-based senders do), retriggers them, releases them, once a second, and
captures the output. MIDI one way and audio the other make a graph cycle, which JACK resolves with
one period of delay: latency figures include that period (for dx7live and jack_midisine alike).
Reported: xruns seen by the probe (the server's xrun callback) and logged by jackd, and which
client jackd blamed for each (the probe has its own); for dx7live also its callback-time
percentiles (native histogram), late callbacks, late events; and the MIDI-to-audio latency of
every chord (send frame -> first captured sample above threshold): percentiles and jitter
(p99 - p1, max - min). A figure-printing benchmark, not a test.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from support import jacktest as jt  # noqa: E402

NOTES = list(range(48, 80, 2))  # 16 notes


def soak_voice() -> bytes:
    """All six operators sounding (algorithm 32, ratios 1..6): the most work per voice; instant
    attack and key sync, so a chord's onset is sample-exact."""
    v = bytearray(jt.sine_voice("SOAK", 1, level=80))
    for k, op in enumerate(range(6)):  # OP6 block first
        b = 21 * op
        v[b + 16] = 70            # output level
        v[b + 18] = 6 - k         # coarse ratio 6..1
    return bytes(v)


# ---- the load: a CPU-bound Python thread that keeps the garbage collector busy ----------------------
def busy_forever(stop: threading.Event) -> None:
    junk = []
    last_collect = time.monotonic()
    while not stop.is_set():
        s = 0
        for i in range(20000):
            s += i * i
        # container garbage with reference cycles: generation-0 collections fire constantly
        for _ in range(200):
            a, b = [], []
            a.append(b)
            b.append(a)
            junk.append({"a": a})
        if len(junk) > 50000:
            junk = []
        if time.monotonic() - last_collect > 0.5:
            gc.collect()          # and a full collection twice a second
            last_collect = time.monotonic()


def start_load() -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=busy_forever, args=(stop,), daemon=True, name="soak-busy").start()
    return stop


def player_main(argv) -> int:
    """`soak.py player ARGS...`: `dx7live play ARGS` with the busy thread inside its process."""
    from dx7live.cli import main

    start_load()
    return main(argv)


def load_main() -> int:
    """`soak.py load`: just the busy thread (beside the C baseline)."""
    start_load()
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        return 0


# ---- the probe's performance -----------------------------------------------------------------------
def play_chords(probe: "jt.Probe", seconds: float, period: int) -> list:
    """Once a second: chord on (on a period boundary), retrigger at 0.4 s, release at 0.8 s."""
    rate = probe.rate
    sends = []
    t = 0.5
    while t + 1.0 <= seconds:
        on = round(t * rate / period) * period / rate
        probe.wait_until(max(0.0, on - 0.3))  # schedule a little ahead of the clock
        frame = None
        for n in NOTES:
            frame = probe.schedule(on, [0x90, n, 100])
        for n in NOTES:
            probe.schedule(on + 0.4, [0x80, n, 0])
        for n in NOTES:
            probe.schedule(on + 0.4, [0x90, n, 90])
        for n in NOTES:
            probe.schedule(on + 0.8, [0x80, n, 0])
        sends.append(probe.frame_index(frame))
        t += 1.0
    probe.wait_until(seconds)
    return sends


def latencies(probe: "jt.Probe", x: np.ndarray, sends: list, rate: float) -> tuple:
    """Onset latency (ms) of each chord whose capture is complete and starts from silence."""
    out, skipped = [], 0
    p = probe.period
    for i in sends:
        a, b = i - int(0.01 * rate), i + int(0.1 * rate)
        if not probe.captured[a // p: b // p + 1].all() or np.abs(x[a:i]).max() > 1e-4:
            skipped += 1  # the probe itself missed a cycle here (an xrun)
            continue
        o = jt.onset(x[i:b], 1e-4)  # first audible sample (the attack ramp is stepped by the engine)
        if o is not None:
            out.append(o / rate * 1e3)
    return np.array(out), skipped


def late_clients(logdir: str) -> dict:
    """Which client jackd blamed for each xrun ("client = X was not finished"), counted."""
    import re

    try:
        text = open(os.path.join(logdir, "jackd.log")).read()
    except OSError:
        return {}
    counts: dict = {}
    for name in re.findall(r"client = (\S+) was not finished", text):
        counts[name] = counts.get(name, 0) + 1
    return counts


def summarize_ms(a: np.ndarray) -> dict:
    if len(a) == 0:
        return {}
    p = np.percentile(a, [1, 50, 90, 99])
    return dict(n=int(len(a)), p1=round(p[0], 3), p50=round(p[1], 3), p90=round(p[2], 3), p99=round(p[3], 3),
                min=round(float(a.min()), 3), max=round(float(a.max()), 3),
                jitter_p99_p1=round(p[3] - p[0], 3), jitter_max_min=round(float(a.max() - a.min()), 3))


# The C baselines. jack_midisine (a trivial C synth: one sine per held note) is wired exactly as
# dx7live is: probe MIDI -> client -> probe audio, the same graph with the same cycle, the same
# chords. jack_simple_client (a sine with no MIDI input) only feeds the probe.
BASELINES = {"jack_midisine": ("midisine:midi_in", "midisine:audio_out"),
             "jack_simple_client": (None, "jack_simple_client:output")}


def run_baseline(period: int, rate: int, seconds: float, logdir: str, client: str = "jack_midisine") -> dict:
    midi_in, audio_out = BASELINES[client]
    with jt.JackServer(rate, period, logdir=logdir) as server:
        env = dict(server.env)
        proc = subprocess.Popen([client], env=env, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(logdir, "client.log"), "w"), preexec_fn=os.setpgrp)
        load = subprocess.Popen([sys.executable, os.path.abspath(__file__), "load"], env=env,
                                preexec_fn=os.setpgrp)
        probe = jt.Probe(server, seconds=seconds + 2)
        try:
            probe.client.activate()
            t0 = time.monotonic()
            while True:  # the client's first port whose name starts with audio_out
                outs = [p.name for p in probe.client.get_ports(is_audio=True, is_output=True)
                        if p.name.startswith(audio_out)]
                if outs:
                    break
                if time.monotonic() - t0 > 10:
                    raise jt.HarnessError(f"{client} did not register {audio_out}*")
                time.sleep(0.05)
            if midi_in:  # MIDI first, then audio: the same feedback connection as for dx7live
                probe.client.connect(probe.midi_out, midi_in)
            probe.client.connect(outs[0], probe.audio_in)
            time.sleep(1.0)
            x0, l0 = probe.xruns, server.xrun_lines()
            probe.start_capture()
            sends = play_chords(probe, seconds, period)
            xruns, lines = probe.xruns - x0, server.xrun_lines() - l0
            x = probe.recorded(seconds).copy()
        finally:
            probe.close()
            jt.stop_process(load)
            jt.stop_process(proc)
    r = dict(client=client, period=period, seconds=seconds, probe_xruns=xruns, jackd_xrun_lines=lines,
             xruns_blamed_on=late_clients(logdir))
    if midi_in:
        lat, skipped = latencies(probe, x, sends, rate)
        r.update(chords_sent=len(sends), chords_measured=int(len(lat)), midi_to_audio_ms=summarize_ms(lat))
    return r


def run_dx7live(period: int, rate: int, seconds: float, logdir: str, backend: str = "auto",
                load_inside: bool = True, midi_backend: str = "auto") -> dict:
    os.makedirs(logdir, exist_ok=True)
    bank = os.path.join(logdir, "soak.syx")
    with open(bank, "wb") as f:
        f.write(jt.bank_sysex([soak_voice()]))
    with jt.JackServer(rate, period, logdir=logdir) as server:
        player, _ = jt.start_player(
            server, ["--audio-api", "jack", "--midi-api", "jack", "--virtual", "--bank", bank,
                     "--audio-backend", backend, "--midi-backend", midi_backend],
            os.path.join(logdir, "player.log"),
            command=[sys.executable, os.path.abspath(__file__), "player" if load_inside else "plain"])
        load = None if load_inside else subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "load"], env=server.env, preexec_fn=os.setpgrp)
        probe = jt.Probe(server, seconds=seconds + 2)
        try:
            probe.connect()
            time.sleep(1.0)            # the load has been running since the player started
            x0, l0 = probe.xruns, server.xrun_lines()
            probe.start_capture()
            sends = play_chords(probe, seconds, period)
            xruns, lines = probe.xruns - x0, server.xrun_lines() - l0
            x = probe.recorded(seconds).copy()
            errors = list(probe.errors)
        finally:
            probe.close()
            stats = jt.stop_player(player)
            jt.stop_process(load)
    lat, skipped = latencies(probe, x, sends, rate)
    return dict(client="dx7live" if backend == "auto" else "dx7live-portaudio", period=period,
                midi_backend=midi_backend,
                load="inside the player" if load_inside else "separate process",
                xruns_blamed_on=late_clients(logdir), seconds=seconds, probe_xruns=xruns, jackd_xrun_lines=lines,
                player_xrun_flags=stats.get("xruns"), late_callbacks=stats.get("late_callbacks"),
                events_late=stats.get("events_late"), events_applied=stats.get("events_applied"),
                callback_ms={k: round(v * 1e3, 4) for k, v in stats.get("callback_s", {}).items()},
                callback_max_ms=round(stats.get("max_callback_s", 0) * 1e3, 4),
                chords_sent=len(sends), chords_measured=int(len(lat)), chords_skipped_xrun=skipped,
                midi_to_audio_ms=summarize_ms(lat), probe_errors=errors[:5],
                voices_per_chord=len(NOTES))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "player":
        return player_main(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        return load_main()
    if len(sys.argv) > 1 and sys.argv[1] == "plain":  # the player without the load inside
        from dx7live.cli import main as cli_main

        return cli_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--periods", default="64,128")
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--skip-portaudio", action="store_true", help="skip the --audio-backend portaudio run")
    ap.add_argument("--skip-simple", action="store_true", help="skip the jack_simple_client reference run")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the sequence (without the closing baseline) this many times (default 1)")
    ap.add_argument("--midi-backend", default="auto", choices=["auto", "rtmidi"],
                    help="MIDI backend of the dx7live runs (rtmidi: polled in Python, to see what the GC does)")
    ap.add_argument("--load-outside", action="store_true",
                    help="run the busy Python thread in a separate process for dx7live too (diagnosis)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if jt.jackd_path() is None:
        print("soak: jackd not found (install jackd2)", file=sys.stderr)
        return 2
    results = []
    for period in [int(p) for p in args.periods.split(",")]:
        logdir = f"/tmp/dx7soak-{os.getpid()}-{period}"
        # baseline, dx7live, ..., baseline again: the machine's load drifts, so bracket the runs
        inside = not args.load_outside
        mb = args.midi_backend
        simple = lambda *a: run_baseline(*a, client="jack_simple_client")  # noqa: E731
        runs = [("base", run_baseline), ("dx7", lambda *a: run_dx7live(*a, load_inside=inside, midi_backend=mb)),
                ("simple", simple),
                ("dx7pa", lambda *a: run_dx7live(*a, backend="portaudio", load_inside=inside, midi_backend=mb)),
                ("base2", run_baseline)]
        # more rounds: base, dx7, ... again, so that bursts of the machine's own spikes average out
        runs = runs[:-1] * args.rounds + runs[-1:]
        for i, (tag, fn) in enumerate(runs):
            if (args.no_baseline and tag in ("base", "base2", "simple")) or (args.skip_portaudio and tag == "dx7pa"):
                continue
            if args.skip_simple and tag == "simple":
                continue
            r = fn(period, args.rate, args.seconds, f"{logdir}-{tag}-{i}")
            r["load_avg_1min"] = os.getloadavg()[0]
            print(json.dumps(r), flush=True)
            results.append(r)
    print("\ntotal xruns per client (all runs):")
    for period in sorted({r["period"] for r in results}):
        for client in dict.fromkeys(r["client"] for r in results):
            rs = [r for r in results if r["client"] == client and r["period"] == period]
            if rs:
                xs = [r["probe_xruns"] for r in rs]
                print(f"  period {period:4d}  {client:20s} {sum(xs):5d} in {len(rs)} runs of {args.seconds:g} s {xs}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
