"""Quality measures over annotations: agreement, truth inference, annotator skill, label errors.

Plain functions and estimators over NumPy arrays and long tables (item, annotator, label); nothing
here imports the store, the server or the CLI.
"""
