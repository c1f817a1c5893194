"""Build script for dx7live's native engine (dx7live._engine).

Environment switches (all optional):
  DX7LIVE_NATIVE_ARCH=1   add -march=native (faster on the build machine, not portable)
  DX7LIVE_SANITIZE=1      build with AddressSanitizer + UndefinedBehaviorSanitizer (-O1 -g);
                          run the tests with LD_PRELOAD=$(g++ -print-file-name=libasan.so)
  DX7LIVE_DEBUG=1         -O0 -g
"""
import glob
import os
import sys

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


compile_args = ["-O3", "-fno-math-errno", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"]
link_args = []
if _flag("DX7LIVE_NATIVE_ARCH"):
    compile_args.append("-march=native")
if _flag("DX7LIVE_DEBUG"):
    compile_args = [a for a in compile_args if not a.startswith("-O")] + ["-O0", "-g"]
if _flag("DX7LIVE_SANITIZE"):
    compile_args = [a for a in compile_args if not a.startswith("-O")]
    compile_args += ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                     "-fno-sanitize-recover=undefined"]
    link_args += ["-fsanitize=address,undefined"]

# The engine: every .cpp directly in native/ (bindings.cpp is the pybind11 module _engine).
engine_sources = sorted(glob.glob(os.path.join("native", "*.cpp")))
engine_core = [s for s in engine_sources if os.path.basename(s) != "bindings.cpp"]
# The live host (native/live/): a second module, _live, with the PortAudio callback and MIDI queue.
# It compiles the engine core in too, so each module is self-contained.
live_sources = sorted(glob.glob(os.path.join("native", "live", "*.cpp")))


def _extension(name, sources, libraries=()):
    return Pybind11Extension(
        name,
        sources,
        # headers too, so editing one rebuilds the module (setuptools only looks at .cpp times)
        depends=sorted(glob.glob(os.path.join("native", "*.h")) + glob.glob(os.path.join("native", "live", "*.h"))),
        include_dirs=["native"],
        cxx_std=17,
        extra_compile_args=compile_args,
        extra_link_args=link_args + ["-pthread"],
        libraries=list(libraries),
    )


ext_modules = []
if engine_sources:
    ext_modules.append(_extension("dx7live._engine", engine_sources))
if live_sources:
    ext_modules.append(_extension("dx7live._live", live_sources + engine_core, libraries=["dl"]))  # dlopen(libjack); glibc < 2.34 needs -ldl


setup(ext_modules=ext_modules, cmdclass={"build_ext": build_ext})
