"""The ``labelloop`` command line: a thin face over the loop."""
