"""Benchmarks run from the command line (``fixengine bench ...``).

Each one measures a baseline in the same run and reports medians of several runs;
none is a timed assertion in the test suite.
"""
