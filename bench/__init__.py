"""Switchboard's benchmarks: the figures that performance claims rest on (run with ``make bench``).

Everything is measured side by side in one run on loopback only, every loop is bounded in count and time, and the
results go to ``bench/results/`` as JSON as well as to a printed table. See ``bench/README.md``.
"""
