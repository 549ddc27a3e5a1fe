"""Build the compiled modules from ext/ (setuptools + Cython): codec, log lines, session, store.

``FIXENGINE_NO_EXTENSIONS=1`` at build time installs the pure-Python twins only
(the same variable makes an installed build use the pure twin at run time).
``FIXENGINE_CYTHON_ANNOTATE=1`` writes ``ext/_codec.html`` (``cython -a``) for profiling.
"""

import os
import sys

from setuptools import Extension, setup

#: The compiled modules, each ``ext/<name>.pyx`` -> ``fixengine.<name>``.
EXTENSIONS = ("_codec", "_logline", "_orders", "_session", "_sim", "_store")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


def _extensions() -> list:
    if _flag("FIXENGINE_NO_EXTENSIONS"):
        return []
    from Cython.Build import cythonize

    args = [] if sys.platform == "win32" else ["-O3"]
    extensions = [
        Extension(f"fixengine.{name}", [f"ext/{name}.pyx"], extra_compile_args=args)
        for name in EXTENSIONS
    ]
    return cythonize(
        extensions,
        language_level=3,
        annotate=_flag("FIXENGINE_CYTHON_ANNOTATE"),
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )


setup(ext_modules=_extensions())
