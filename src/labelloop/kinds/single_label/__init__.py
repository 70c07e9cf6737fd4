"""Single-label classification: every item gets exactly one of the project's labels."""

from labelloop.kinds.single_label.kind import SingleLabel

__all__ = ["SingleLabel"]
