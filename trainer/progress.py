"""What training shows: one progress display (TensorFlow's own logs: :mod:`trainer.console`)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import keras

_METRICS = (("loss", "loss"), ("accuracy", "acc"), ("val_loss", "val_loss"), ("val_accuracy", "val_acc"))


class RunProgress(keras.callbacks.Callback):
    """The one progress display of a training run.

    On a terminal: a bar over every step of the run, with the epoch, its metrics and the ETA.
    Elsewhere (a log, CI): one line per epoch,
    ``epoch 3/15  loss 0.0412  acc 0.9871  val_acc 0.9912  48s/epoch  ETA 9m36s``.
    """

    def __init__(self, epochs: int, steps_per_epoch: int | None = None, stream: TextIO | None = None,
                 label: str = "training"):
        super().__init__()
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.stream = stream or sys.stdout
        self.label = label
        self.started = 0.0
        self._bar = None
        self._task = None

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()
        if self.steps_per_epoch and self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[metrics]}"),
                                 console=Console(file=self.stream), transient=False)
            self._task = self._bar.add_task(self.label, total=self.epochs * self.steps_per_epoch, metrics="")
            self._bar.start()

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.advance(self._task)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        parts = [f"{label} {(logs or {})[key]:.4f}" for key, label in _METRICS if key in (logs or {})]
        if self._bar is not None:
            self._bar.update(self._task, description=f"{self.label} epoch {done}/{self.epochs}",
                             metrics="  ".join(parts))
            return
        per_epoch = (time.monotonic() - self.started) / done
        eta = per_epoch * (self.epochs - done)
        line = "  ".join([f"epoch {done}/{self.epochs}", *parts, f"{per_epoch:.0f}s/epoch",
                          f"ETA {int(eta // 60)}m{int(eta % 60):02d}s"])
        print(line, file=self.stream, flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
