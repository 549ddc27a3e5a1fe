"""Build the compiled codec core from ext/ (setuptools + Cython)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "fixengine._codec",
        ["ext/_codec.pyx"],
        extra_compile_args=["-O3"],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
