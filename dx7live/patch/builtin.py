"""dx7live's own built-in voice banks (original voices designed for this project).

The banks are built from readable sources (``patches/<bank>.toml``) by ``patches/build_banks.py``
into standard 32-voice bulk dumps, kept as package data in ``dx7live/patch/banks/*.syx`` (one place,
in a checkout and in an installed package alike). They are
the default wherever a bank is optional (the live player, the Dataset, the examples), so nothing
has to be downloaded to hear something.

    >>> from dx7live.patch.builtin import builtin_bank, builtin_bank_names
    >>> builtin_bank_names()
    ['dx7live-1']
    >>> bank = builtin_bank()          # the default bank
    >>> bank.names[0]
    'TINE EP'
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

from dx7live.patch.reader import Bank, load

DEFAULT_BANK = "dx7live-1"

BANK_DIR = Path(__file__).resolve().parent / "banks"   # package data, written by patches/build_banks.py


def _bank_dir() -> Path:
    """Where the built-in .syx files are (package data, the same in a checkout and an install)."""
    if BANK_DIR.is_dir() and any(BANK_DIR.glob("*.syx")):
        return BANK_DIR
    raise FileNotFoundError(
        f"dx7live's built-in banks are missing from {BANK_DIR}; "
        "reinstall dx7live, or run 'python patches/build_banks.py' in a source checkout")


def builtin_bank_names() -> list[str]:
    """Names of the built-in banks, sorted (the default, ``'dx7live-1'``, among them)."""
    return sorted(p.stem for p in _bank_dir().glob("*.syx"))


@lru_cache(maxsize=None)
def _load(name: str) -> Bank:
    return load(_bank_dir() / f"{name}.syx", strict=True)


def builtin_bank(name: Optional[str] = None) -> Bank:
    """A built-in bank of 32 voices (default ``'dx7live-1'``).

    Raises ``ValueError`` naming the available banks if ``name`` is not one of them. The bank
    is read once and cached; the returned :class:`~dx7live.patch.reader.Bank` is shared, but
    indexing it gives independent :class:`~dx7live.patch.voice.Voice` copies.
    """
    name = DEFAULT_BANK if name is None else name
    if not isinstance(name, str):
        raise TypeError(f"a built-in bank name is a string, got {type(name).__name__}")
    names = builtin_bank_names()
    if name not in names:
        raise ValueError(f"no built-in bank {name!r}; available: {', '.join(names)}")
    return _load(name)
