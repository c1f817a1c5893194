"""``dx7live play``: play the DX7 live from a MIDI keyboard or a sequencer."""
from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from dx7live.cli import EXIT_NO_DEVICE, EXIT_OK, EXIT_USAGE

DESCRIPTION = """\
Play the DX7 live. Notes, velocity, program change (a voice of the current bank; bank select
CC0/CC32 chooses among several --bank files), pitch bend, mod wheel, breath, foot, aftertouch,
sustain, portamento, mono/poly, volume and sysex (a 32-voice dump replaces the bank, a
single-voice dump loads into the edit buffer, voice and function parameter changes apply at once)
all work while you play. The sound is rendered in native code called directly by the audio
driver, so busy Python threads cannot make it click.

examples:
  dx7live play                          built-in bank, first MIDI input, default audio output
  dx7live play --bank rom1a.syx --voice 11
  dx7live play --virtual                a MIDI port for your DAW/sequencer to connect to
  dx7live play --audio-api jack --midi-api jack --blocksize 64
  dx7live play --record take.wav        also writes take.midi.jsonl (events with frame times)
keys while playing: left/right (or -/+) step voices, space or p = panic, q = quit.
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("play", help="play live from a MIDI keyboard", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("sounds")
    g.add_argument("--bank", action="append", default=[], metavar="FILE",
                   help="a bank file (.syx or any format `dx7live info` reads); repeat for several banks, "
                        "chosen with bank select (CC0/CC32). Default: the built-in bank")
    g.add_argument("--voice", type=int, default=1, metavar="N", help="voice to start with, 1-based (default 1)")
    g.add_argument("--polyphony", type=int, default=16, metavar="N", help="voices (1-64, default 16 as on a DX7)")
    g.add_argument("--master-tune", type=int, default=0, metavar="UNITS",
                   help="master tune in DX7 units, -256..255 (4096 per octave; default 0)")
    g.add_argument("--gain", type=float, default=1.0, help="output gain (default 1.0)")
    g = p.add_argument_group("MIDI input")
    g.add_argument("--midi", metavar="NAME", help="MIDI input port: name, part of it, or number "
                                                  "(default: the first port; see `dx7live devices`)")
    g.add_argument("--virtual", action="store_true",
                   help="open a virtual input port (dx7live-midi:in) for sequencers and DAWs to connect to")
    g.add_argument("--midi-api", choices=["auto", "alsa", "jack"], default="auto",
                   help="MIDI system (default: ALSA, else JACK when a JACK server runs)")
    g.add_argument("--midi-backend", choices=["auto", "rtmidi"], default="auto",
                   help="auto (default): JACK MIDI read natively (frame-exact times, notes never wait for "
                        "Python), ALSA through python-rtmidi; rtmidi: python-rtmidi (polled) for JACK too")
    g.add_argument("--channel", default="omni", metavar="N",
                   help="receive channel 1-16, or omni (default)")
    g.add_argument("--no-midi", action="store_true", help="no MIDI input (play voices with the keys only)")
    g = p.add_argument_group("audio output")
    g.add_argument("--device", metavar="NAME", help="output device: name, part of it, or number (see `dx7live devices`)")
    g.add_argument("--audio-api", metavar="API",
                   help="host API: jack, alsa, pulse, ... (default: JACK when its server runs, else the system default)")
    g.add_argument("--sample-rate", type=float, metavar="HZ", help="default: the device's rate (JACK: the server's)")
    g.add_argument("--blocksize", type=int, default=0, metavar="FRAMES",
                   help="frames per callback (default 0 = let the host decide). On JACK the server's period "
                        "is the block size (set it with jackd -p)")
    g.add_argument("--latency", default="low", metavar="S",
                   help="output latency: low, high, or seconds (default low)")
    g.add_argument("--audio-backend", choices=["auto", "portaudio"], default="auto",
                   help="auto (default): on JACK, dx7live's own JACK client renders the audio (one client for "
                        "MIDI and audio, frame-exact timing); elsewhere a PortAudio stream. portaudio: always PortAudio")
    g.add_argument("--midi-latency", type=float, default=None, metavar="MS",
                   help="extra MIDI-to-sound delay that makes the latency constant (default: none with JACK MIDI into "
                        "dx7live's own JACK client, whose events arrive in the callback that plays them; otherwise two "
                        "audio periods + 1 ms)")
    g = p.add_argument_group("recording")
    g.add_argument("--record", metavar="FILE.wav",
                   help="record the performance to a WAV and its MIDI events to FILE.midi.jsonl")
    p.add_argument("--plain", action="store_true", help="plain status lines even on a terminal")
    p.set_defaults(func=run)


def _parse_channel(text: str):
    if text.lower() == "omni":
        return None
    if text.isdigit() and 1 <= int(text) <= 16:
        return int(text) - 1
    raise ValueError(f"--channel must be 1-16 or omni, got {text!r}")


def _latency(text: str):
    if text in ("low", "high"):
        return text
    value = float(text)
    if not 0.0 < value < 2.0:
        raise ValueError(f"--latency must be low, high or 0..2 seconds, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from dx7live.live.audio import AudioError
    from dx7live.live.midi_input import MidiError
    from dx7live.live.session import BankError, LiveConfig, LiveSession
    from dx7live.live.status import StatusDisplay

    try:
        channel = _parse_channel(args.channel)
        latency = _latency(args.latency)
        if not 1 <= args.polyphony <= 64:
            raise ValueError(f"--polyphony must be 1-64, got {args.polyphony}")
        if not -256 <= args.master_tune <= 255:
            raise ValueError(f"--master-tune must be -256..255, got {args.master_tune}")
        if args.blocksize < 0:
            raise ValueError(f"--blocksize must be >= 0, got {args.blocksize}")
        if args.voice < 1:
            raise ValueError(f"--voice is 1-based, got {args.voice}")
        if args.record and not args.record.lower().endswith(".wav"):
            raise ValueError(f"--record needs a .wav file name, got {args.record!r}")
    except ValueError as exc:
        print(f"dx7live play: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for path in [args.record] if args.record else []:
        if any(path == b for b in args.bank):
            print(f"dx7live play: --record {path} would overwrite a bank file", file=sys.stderr)
            return EXIT_USAGE

    config = LiveConfig(
        banks=args.bank, voice=args.voice - 1, midi=args.midi, virtual=args.virtual, midi_api=args.midi_api,
        no_midi=args.no_midi, audio_api=args.audio_api, device=args.device, sample_rate=args.sample_rate,
        polyphony=args.polyphony, blocksize=args.blocksize, latency=latency, channel=channel,
        master_tune=args.master_tune, gain=args.gain, extra_latency_ms=args.midi_latency, record=args.record,
        audio_backend=args.audio_backend, midi_backend=args.midi_backend)
    display = None
    session = LiveSession(config, on_message=lambda text: display.note(text) if display else None)

    def on_signal(signum, frame):  # SIGTERM/SIGHUP: leave as cleanly as Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_signal)
    rc = EXIT_OK
    try:
        try:
            session.start()
        except BankError as exc:
            print(f"dx7live play: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (AudioError, MidiError) as exc:
            print(f"dx7live play: {exc}", file=sys.stderr)
            return EXIT_NO_DEVICE
        display = StatusDisplay(session, interactive=False if args.plain else None)
        for text in session.messages:  # said while starting, before the display existed
            print(f"dx7live: {text}", flush=True)
        st = session.status()
        print(f"dx7live: playing {st.get('bank')} voice {st.get('program', 0) + 1} {st.get('voice', '')!r} on "
              f"{st.get('device')} ({st.get('hostapi')}, {st.get('sample_rate', 0):.0f} Hz), MIDI from "
              f"{st.get('midi_port', 'nowhere')}; Ctrl-C to quit", flush=True)
        display.run()
    except KeyboardInterrupt:
        rc = EXIT_OK  # Ctrl-C is the normal way to stop playing
    finally:
        session.stop()
    final = session.host.status() if session.host is not None else {}
    if final and session.sample_rate:
        print(f"dx7live: stopped after {final['frames'] / session.sample_rate:.1f} s; "
              f"xruns {final['xruns']}, late callbacks {final['late_callbacks']}, "
              f"late events {final['events_late']}, max callback {1e3 * final['max_callback_s']:.2f} ms",
              flush=True)
        if args.plain:
            import json

            from dx7live.live.session import histogram_percentiles

            final["callback_s"] = histogram_percentiles(session.host.callback_histogram())
            print("stats " + json.dumps(final), flush=True)
    return rc
