"""Benchmarks: run from the repository root as modules, e.g. ``.venv/bin/python -m bench.stream --all``."""
