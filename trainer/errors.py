"""Errors raised by the trainer."""


class TrainerError(Exception):
    """Base class for trainer errors."""


class DatasetError(TrainerError):
    """The MNIST data is missing or corrupt. The message names the offending file."""


class ExportError(TrainerError):
    """The model could not be exported; nothing was left in the model directory."""
