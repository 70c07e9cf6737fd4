"""Multi-label classification: every item gets any subset of the project's labels."""

from labelloop.kinds.multi_label.kind import MultiLabel

__all__ = ["MultiLabel"]
