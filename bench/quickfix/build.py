"""Compile the QuickFIX interoperability programs (executor, initiator) with g++.

Theory of operation
-------------------
:func:`build` hashes the C++ sources of this directory together with the compiler
command line, the compiler's version and QuickFIX's version header, and compiles
each program into ``<cache>/<hash>/`` unless both binaries are already there; a
cache hit costs a hash. The two programs compile in parallel. The binaries are
written under a temporary name and renamed, so a concurrent build never sees a
half-written file.

When they cannot be built, :class:`BuildUnavailable` says why in one line: no C++
compiler, QuickFIX's headers or library missing (``apt-get install -y
libquickfix-dev`` on Debian), or the compiler's own error output.

Command line::

    python bench/quickfix/build.py [--cache DIR]   # prints {"executor": ..., "initiator": ...}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAMS = {"executor": "executor.cpp", "initiator": "initiator.cpp"}
SOURCES = ("common.h", *PROGRAMS.values())
#: QuickFIX 1.15's headers use dynamic exception specifications (gone in C++17).
CXXFLAGS = ("-std=c++14", "-O2", "-Wall", "-Wno-deprecated", "-Wno-deprecated-declarations")
LIBS = ("-lquickfix", "-lpthread")
QUICKFIX_HEADER = "quickfix/Application.h"
INSTALL_HINT = "install it with: apt-get install -y libquickfix-dev"


class BuildUnavailable(RuntimeError):
    """The programs cannot be built here; the message says why.

    ``missing`` is True when a prerequisite is not installed (compiler, QuickFIX
    headers or library) and False when the sources do not compile.
    """

    def __init__(self, text: str, *, missing: bool = True) -> None:
        super().__init__(text)
        self.missing = missing


def default_cache_dir() -> Path:
    """``$FIXENGINE_QUICKFIX_CACHE``, else ``$XDG_CACHE_HOME/fixengine/quickfix``."""
    env = os.environ.get("FIXENGINE_QUICKFIX_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fixengine" / "quickfix"


def _compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise BuildUnavailable("no C++ compiler (g++) found; install it with: apt-get install g++")
    return cxx


def _quickfix_header(cxx: str) -> Path:
    """Where the compiler finds QuickFIX's headers (BuildUnavailable if it does not)."""
    probe = subprocess.run(
        [cxx, "-std=c++14", "-x", "c++", "-E", "-M", "-"],
        input=f"#include <{QUICKFIX_HEADER}>\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        raise BuildUnavailable(
            f"QuickFIX C++ headers not found ({QUICKFIX_HEADER}); {INSTALL_HINT}"
        )
    for word in probe.stdout.replace("\\\n", " ").split():
        if word.endswith(QUICKFIX_HEADER):
            return Path(word)
    raise BuildUnavailable(f"cannot locate {QUICKFIX_HEADER}; {INSTALL_HINT}")


def _fingerprint(cxx: str, header: Path) -> str:
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes() + b"\0")
    digest.update(" ".join((cxx, *CXXFLAGS, *LIBS)).encode())
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=False)
    digest.update(version.stdout.encode())
    config = header.parent / "config.h"
    for path in (config, header):
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Paths of the compiled programs (``executor``, ``initiator``), building if needed.

    Raises :class:`BuildUnavailable` when the compiler or QuickFIX is missing or the
    sources do not compile (the compiler's messages are in the exception text).
    """
    cxx = _compiler()
    header = _quickfix_header(cxx)
    out_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out_dir = out_dir / _fingerprint(cxx, header)
    paths = {name: out_dir / f"qf_{name}" for name in PROGRAMS}
    if all(os.access(p, os.X_OK) for p in paths.values()):
        return paths
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, Path, Path, subprocess.Popen[str]]] = []
    for name, source in PROGRAMS.items():
        target = paths[name]
        if os.access(target, os.X_OK):
            continue
        fd, tmp_name = tempfile.mkstemp(prefix=f".qf_{name}.", dir=out_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        cmd = [cxx, *CXXFLAGS, "-I", str(HERE), str(HERE / source), "-o", str(tmp), *LIBS]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        jobs.append((name, tmp, target, proc))
    errors: list[str] = []
    for name, tmp, target, proc in jobs:
        output, _ = proc.communicate()
        if proc.returncode == 0:
            tmp.chmod(0o755)
            tmp.replace(target)
        else:
            tmp.unlink(missing_ok=True)
            if "cannot find -lquickfix" in output:
                errors.append(f"QuickFIX library (libquickfix.so) not found; {INSTALL_HINT}")
            else:
                errors.append(f"{PROGRAMS[name]} does not compile:\n{output[-4000:]}")
    if errors:
        missing = all(INSTALL_HINT in e for e in errors)
        raise BuildUnavailable("\n".join(errors), missing=missing)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", help="cache directory (default: %(default)s)", default=None)
    args = parser.parse_args(argv)
    try:
        paths = build(args.cache)
    except BuildUnavailable as exc:
        print(f"cannot build the QuickFIX programs: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({name: str(path) for name, path in paths.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
