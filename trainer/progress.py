"""Training progress: one line per epoch with loss, accuracy and the ETA of the whole run."""

from __future__ import annotations

import sys
import time

import keras


class RunProgress(keras.callbacks.Callback):
    """Prints ``epoch 3/15  loss 0.0412  acc 0.9871  val_acc 0.9912  48s/epoch  ETA 9m36s``."""

    def __init__(self, epochs: int, stream=None):
        super().__init__()
        self.epochs = epochs
        self.stream = stream or sys.stdout
        self.started = 0.0

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        done = epoch + 1
        per_epoch = (time.monotonic() - self.started) / done
        eta = per_epoch * (self.epochs - done)
        parts = [f"epoch {done}/{self.epochs}"]
        labels = (("loss", "loss"), ("accuracy", "acc"), ("val_loss", "val_loss"), ("val_accuracy", "val_acc"))
        for key, label in labels:
            if key in logs:
                parts.append(f"{label} {logs[key]:.4f}")
        parts += [f"{per_epoch:.0f}s/epoch", f"ETA {int(eta // 60)}m{int(eta % 60):02d}s"]
        print("  ".join(parts), file=self.stream, flush=True)
