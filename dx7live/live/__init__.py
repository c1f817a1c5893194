"""Live play: the native audio host, MIDI input, the instrument and the terminal display.

Pieces (one concept per module; the design is in docs/live.md):
  audio.py       output: PortAudio stream whose callback is native (dx7live._live), or on JACK
                 dx7live's own native JACK client; device and host-API choice
  midi_input.py  MIDI port/API choice: native JACK MIDI, or python-rtmidi polled by a thread
                 (ALSA); arrival timestamps; reconnection after unplugging
  instrument.py  banks, program and bank select, sysex off the audio thread
  recorder.py    annotated recording (WAV + JSON lines of the applied events)
  session.py     builds, starts and stops all of the above in the right order
  status.py      the terminal display and its keys
"""
