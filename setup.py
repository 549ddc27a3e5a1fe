"""Build the compiled codec core and message-log lines from ext/ (setuptools + Cython).

``FIXENGINE_NO_EXTENSIONS=1`` at build time installs the pure-Python codec only
(the same variable makes an installed build use the pure twin at run time).
``FIXENGINE_CYTHON_ANNOTATE=1`` writes ``ext/_codec.html`` (``cython -a``) for profiling.
"""

import os
import sys

from setuptools import Extension, setup


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


def _extensions() -> list:
    if _flag("FIXENGINE_NO_EXTENSIONS"):
        return []
    from Cython.Build import cythonize

    extensions = [
        Extension(
            "fixengine._codec",
            ["ext/_codec.pyx"],
            extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
        ),
        Extension(
            "fixengine._logline",
            ["ext/_logline.pyx"],
            extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
        ),
        Extension(
            "fixengine._session",
            ["ext/_session.pyx"],
            extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
        ),
        Extension(
            "fixengine._store",
            ["ext/_store.pyx"],
            extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
        ),
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
