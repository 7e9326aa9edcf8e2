"""Scan rendering for tests: the trainer's own generator, so tests and evaluation agree."""

from trainer.scans import boxed_scan, number_scan, random_scan, render_scan, scan_set

__all__ = ["boxed_scan", "number_scan", "random_scan", "render_scan", "scan_set"]
