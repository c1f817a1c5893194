#!/usr/bin/env bash
# Set up everything dx7live's test suite needs and run all of it (the README's test command).
#
#   bash tests/run.sh [pytest args...]
#
# 1. Debian packages for the live tests (JACK, PortAudio, libsndfile) when running as root with apt-get
#    (skip with DX7LIVE_NO_APT=1; without them the JACK tests skip and say why).
# 2. A virtual environment in .venv (override with DX7LIVE_VENV) with torch==2.13.0 (CPU build) and
#    dx7live installed editable with its test extras (this builds the native engine in place).
# 3. The whole pytest suite, then the engine tests again against an AddressSanitizer/UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${DX7LIVE_VENV:-.venv}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -z "${DX7LIVE_NO_APT:-}" ]; then
    need=()
    for pkg in jackd2 libjack-jackd2-0 libportaudio2 libasound2 libsndfile1 g++; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -gt 0 ]; then
        echo "== installing Debian packages: ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # jackd2 asks whether to enable real-time limits; answer no so the install never prompts.
        echo "jackd2 jackd/tweak_rt_limits boolean false" | debconf-set-selections
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    python3 -m venv "$VENV"
fi
PY="$(cd "$VENV" && pwd)/bin/python"   # absolute: .ci/sanitize works in a copy elsewhere
"$PY" -m pip install -q --upgrade pip
# torch only for the Dataset; pinned CPU build (an unpinned torch pulls a multi-GB CUDA build).
"$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install -q "torch==2.13.0"
# the build requirements in the venv too: .ci/sanitize builds a second configuration with them
"$PY" -m pip install -q "setuptools>=77" wheel "pybind11>=2.12" numpy
echo "== building dx7live"
"$PY" -m pip install -q -e ".[test,flac]"

echo "== test suite"
"$PY" -m pytest "$@"

echo "== engine tests under AddressSanitizer + UndefinedBehaviorSanitizer"
bash .ci/sanitize "$PY"
