"""``dx7live devices``: the audio outputs and MIDI inputs `dx7live play` can use."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from dx7live.cli import EXIT_NO_DEVICE, EXIT_OK

DESCRIPTION = """\
List audio output devices (with their host API: ALSA, JACK, PulseAudio, ...) and MIDI input
ports (with their MIDI API: ALSA or JACK). Pass a name (or part of it) to `dx7live play` with
--device / --midi, and the API with --audio-api / --midi-api.

A JACK server is only listed when it is running before this command starts.
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("devices", help="list audio outputs and MIDI inputs", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print the lists as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dx7live.live.audio import AudioError, list_output_devices
    from dx7live.live.midi_input import list_ports

    try:
        audio = list_output_devices()
    except AudioError as exc:
        print(f"dx7live devices: {exc}", file=sys.stderr)
        audio = []
    unavailable: list = []
    midi = list_ports("auto", unavailable)
    if args.json:
        print(json.dumps({
            "audio_outputs": [dict(index=d.index, name=d.name, hostapi=d.hostapi, channels=d.channels,
                                   default_samplerate=d.default_samplerate) for d in audio],
            "midi_inputs": [dict(api=api, ports=ports) for api, ports in midi],
            "midi_unavailable": unavailable}, indent=1))
    else:
        print("audio outputs:")
        for d in audio:
            print(f"  {d.index:>3}  {d.name}  [{d.hostapi}, {d.channels} ch, {d.default_samplerate:.0f} Hz]")
        if not audio:
            print("  none (no sound card, and no JACK/PulseAudio server running)")
        print("MIDI inputs:")
        for api, ports in midi:
            for i, name in enumerate(ports):
                print(f"  {i:>3}  {name}  [{api}]")
            if not ports:
                print(f"  none on {api}")
        for why in unavailable:
            print(f"  ({why.split(' (')[0]})")
        if not midi:
            print("  no MIDI API available (no ALSA sequencer, no JACK server); `dx7live play --virtual` "
                  "needs one of them")
    return EXIT_OK if audio else EXIT_NO_DEVICE
