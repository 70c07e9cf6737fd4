"""Learning algorithms over NumPy arrays: features, models, calibration, query strategies.

Nothing here imports the store, the loop, the server or the CLI.
"""
