"""Data files shipped with dx7live (fitted voice statistics for the generator)."""
