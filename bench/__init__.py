"""Benchmarks: thresher and the baselines a user would pick instead, run side by side (``make bench``).

Each ``bench/pN_*.py`` is one benchmark; ``python -m bench.run_all`` runs them all and writes
``docs/benchmarks.md`` and ``bench/results.json``. Each also runs alone, ``--smoke`` for a tiny
run of every code path (the test suite does that), ``--reps N`` for the repetitions.
"""
