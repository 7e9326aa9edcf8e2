"""What training shows: one progress display (TensorFlow's own logs: :mod:`trainer.console`).

:class:`RunProgress` follows Keras' ``fit`` (the digit model); :class:`StepProgress` any loop
of known length (the string model's generation and training steps).
"""

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
            self._bar = _rich_bar(self.stream)
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


class StepProgress:
    """The one progress display of a loop of ``total`` steps, used as a context manager.

    On a terminal: a bar with the step count, the ETA and the latest metrics; notes print
    above it. Elsewhere: a line every ``every`` steps (and at the end),
    ``training 2000/9000  loss 3.297  lr 1.9e-03  480 img/s  ETA 4m12s``, and each note.
    """

    def __init__(self, total: int, label: str, every: int, stream: TextIO | None = None):
        self.total = total
        self.label = label
        self.every = max(1, every)
        self.stream = stream or sys.stdout
        self.done = 0
        self.started = 0.0
        self._bar = None
        self._task = None

    def __enter__(self) -> StepProgress:
        self.started = time.monotonic()
        if self.stream.isatty():
            self._bar = _rich_bar(self.stream)
            self._task = self._bar.add_task(self.label, total=self.total, metrics="")
            self._bar.start()
        return self

    def advance(self, steps: int = 1, metrics: str = "") -> None:
        before, self.done = self.done, self.done + steps
        if self._bar is not None:
            self._bar.update(self._task, advance=steps, metrics=metrics)
            return
        if self.done // self.every > before // self.every or self.done >= self.total:
            elapsed = time.monotonic() - self.started
            eta = elapsed / max(self.done, 1) * (self.total - self.done)
            parts = [f"{self.label} {self.done}/{self.total}", metrics, f"{elapsed:.0f}s",
                     f"ETA {int(eta // 60)}m{int(eta % 60):02d}s"]
            print("  ".join(p for p in parts if p), file=self.stream, flush=True)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        else:
            print(text, file=self.stream, flush=True)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _rich_bar(stream: TextIO):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    TextColumn("{task.fields[metrics]}"), console=Console(file=stream), transient=False)
