"""Trainer settings: command-line flags with environment-variable defaults."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import Field

from contracts.models import DEFAULT_MODEL_NAME
from core.settings import DigitsSettings


class TrainerEnv(DigitsSettings):
    """The ``DIGITS_*`` variables behind the trainer's flags' defaults."""

    mnist_dir: str | None = None
    model_base: str = "models"
    model_name: str = DEFAULT_MODEL_NAME
    train_epochs: int = Field(24, ge=1)
    train_precision: str = "auto"


@dataclass(frozen=True)
class TrainerSettings:
    data_dir: str | None
    model_base: str
    model_name: str
    epochs: int
    limit: int | None
    batch_size: int
    width: int
    seed: int
    validation_fraction: float
    learning_rate: float
    scan_eval_count: int
    augment: bool
    precision: str
    if_missing: bool
    verbose: bool


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> TrainerSettings:
    """Parse trainer flags; unset flags fall back to ``DIGITS_*`` variables, then defaults."""
    env = TrainerEnv.from_env(environ)
    parser = argparse.ArgumentParser(prog="digits train", description="Train and export the digits model.")
    parser.add_argument("--data-dir", default=env.mnist_dir,
                        help="folder with the MNIST IDX files (env DIGITS_MNIST_DIR); "
                             "without it, Keras downloads MNIST")
    parser.add_argument("--model-base", default=env.model_base,
                        help="model base path (env DIGITS_MODEL_BASE, default ./models)")
    parser.add_argument("--name", dest="model_name", default=env.model_name,
                        help="model name (env DIGITS_MODEL_NAME, default digits)")
    parser.add_argument("--epochs", type=int, default=env.train_epochs)
    parser.add_argument("--limit", type=int, default=None,
                        help="train on only the first N training images (quick runs)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=int, default=32, help="filters in the first conv block")
    parser.add_argument("--seed", type=int, default=1234, help="makes runs reproducible")
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--learning-rate", type=float, default=3e-3, help="peak of the cosine schedule")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                        help="train-time scan augmentation (elastic, rotation, scale, shift, stroke, blur, "
                             "noise); on by default, --no-augment for quick runs")
    parser.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16"),
                        default=env.train_precision,
                        help="training arithmetic (env DIGITS_TRAIN_PRECISION): auto picks mixed bfloat16 on CPUs "
                             "with native bfloat16 (AVX512-BF16 or AMX), about twice as fast; the exported "
                             "model always computes in float32")
    parser.add_argument("--scan-eval-count", type=int, default=2000,
                        help="scan-like images made from MNIST test digits for evaluation")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when a version of the model already exists")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log lines on the console (by default they go to "
                             "<model base>/<name>/train.log)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 100:
        parser.error("--limit must be at least 100")
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.precision not in ("auto", "float32", "mixed_bfloat16"):
        parser.error(f"DIGITS_TRAIN_PRECISION must be auto, float32 or mixed_bfloat16, not {args.precision!r}")
    return TrainerSettings(**vars(args))
