"""Simulated people and the whole loop run with them: for benchmarks, the demo and ``simulate``.

Nothing in the core loop imports this package; it drives the loop from outside, as a team would.
"""
