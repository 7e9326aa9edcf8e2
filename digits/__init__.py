"""digits: reads handwritten digits from scans. This package holds the CLI and shared config."""

__version__ = "0.1.0"
