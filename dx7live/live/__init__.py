"""Live play: the native audio host, MIDI input, the instrument and the terminal display.

Pieces (one concept per module):
  audio.py       PortAudio output stream whose callback is native (dx7live._live), device choice
  midi_input.py  MIDI port/API choice, the polling thread, arrival timestamps, reconnection
  instrument.py  banks, program and bank select, sysex off the audio thread
  recorder.py    annotated recording (WAV + JSON lines of the applied events)
  session.py     builds, starts and stops all of the above in the right order
  status.py      the terminal display and its keys
"""
