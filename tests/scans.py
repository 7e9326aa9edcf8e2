"""Scan rendering for tests: the trainer's own generator, so tests and evaluation agree."""

from trainer.scans import random_scan, render_scan

__all__ = ["random_scan", "render_scan"]
