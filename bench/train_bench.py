"""Training time and MNIST test accuracy: `digits train`'s defaults vs the Keras tutorial, same run.

    python -m bench.train_bench --data-dir ../shared/data/mnist [--limit N --epochs N] [--model-base DIR]

The baseline is Keras' "Simple MNIST convnet" example as published: two 3x3 convolutions (32
and 64) with max pooling, dropout 0.5, a softmax layer, Adam, batch 128, 15 epochs, 10% of
the training set held out. Ours is the trainer with its defaults (augmentation, calibration,
scan-like evaluation and export included in its figures). Both run here, one after the
other, on the same cores. ``--limit``/``--epochs`` shrink both for a quick check.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from bench.machine import cpu_times, describe, steal_share
from trainer.data import Mnist, load_mnist
from trainer.train import use_onednn_for_training


def tutorial(data: Mnist, epochs: int, limit: int | None) -> tuple[float, float]:
    """Train the Keras example's convnet; (seconds of training, MNIST test accuracy)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(1234)
    x = data.x_train[:limit].astype("float32")[..., None] / 255.0
    y = keras.utils.to_categorical(data.y_train[:limit], 10)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    started = time.monotonic()
    model.fit(x, y, batch_size=128, epochs=epochs, validation_split=0.1, verbose=0)
    seconds = time.monotonic() - started
    predicted = model.predict(data.x_test.astype("float32")[..., None] / 255.0, verbose=0).argmax(axis=1)
    return seconds, float(np.mean(predicted == data.y_test))


def ours(data_dir: str | None, epochs: int | None, limit: int | None, model_base: str | None) -> tuple[dict, float]:
    """Run `digits train` with its defaults; its metrics.json and the seconds the whole command
    took (loading, training, evaluation and export). The model goes to ``model_base``, or to
    a scratch folder that is removed."""
    from trainer.settings import parse_args
    from trainer.train import run

    with tempfile.TemporaryDirectory(prefix="digits-train-bench-") as scratch:
        argv = ["--model-base", model_base or scratch] + (["--data-dir", data_dir] if data_dir else [])
        argv += (["--epochs", str(epochs)] if epochs else []) + (["--limit", str(limit)] if limit else [])
        started = time.monotonic()
        folder = run(parse_args(argv, environ={}))
        return json.loads((folder / "metrics.json").read_text()), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("DIGITS_MNIST_DIR"))
    parser.add_argument("--epochs", type=int, default=None, help="for both (default: each one's own)")
    parser.add_argument("--limit", type=int, default=None, help="training images for both (default: all)")
    parser.add_argument("--model-base", default=None,
                        help="keep our model as the next version here (default: a scratch folder, removed)")
    args = parser.parse_args()
    use_onednn_for_training()  # as `digits train` does; before either recipe imports TensorFlow
    data = load_mnist(args.data_dir)
    print("training the Keras tutorial's convnet ...", flush=True)
    before = cpu_times()
    base_seconds, base_accuracy = tutorial(data, args.epochs or 15, args.limit)
    print("training with `digits train` defaults ...", flush=True)
    metrics, total_seconds = ours(args.data_dir, args.epochs, args.limit, args.model_base)
    training = metrics["training"]
    print(f"\n{describe(steal_share(before, cpu_times()))}\n")
    print("| recipe | epochs | training (min) | whole command (min) | MNIST test accuracy |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| Keras tutorial convnet | {args.epochs or 15} | {base_seconds / 60:.1f} | | {base_accuracy:.2%} |")
    print(f"| `digits train` ({training['precision']}) | {training['epochs']} | {training['seconds'] / 60:.1f} | "
          f"{total_seconds / 60:.1f} | {metrics['test']['accuracy']:.2%} |")


if __name__ == "__main__":
    main()
