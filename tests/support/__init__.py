"""Test harness and helpers (not shipped in the package): the JACK harness, audio analysis,
reference formulas from the spec, engine test voices, and where the repository and corpus are."""
