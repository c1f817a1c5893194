"""Offline rendering on the engine: batches, MIDI files, the PyTorch Dataset, sweeps and their
writers, annotations. Stands on the engine and the patch model; never imports the live instrument."""
