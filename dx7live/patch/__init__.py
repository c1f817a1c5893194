"""The DX7 data model and patch files: voices, sysex framing, the reader, writers, the packer,
the built-in banks and the voice generator. Pure Python and numpy; it stands below the engine
wrapper, the offline renderer and the live instrument, and imports none of them."""
