"""labelloop: self-hosted human-in-the-loop labelling with a closed quality loop."""

__version__ = "0.1.0"
