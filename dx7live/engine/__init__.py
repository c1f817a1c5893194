"""The engine wrapper: :class:`Synth` and :func:`render_note` around the native ``_engine`` module."""
