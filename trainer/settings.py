"""Trainer settings: command-line flags with environment-variable defaults."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import Field

from contracts.models import DEFAULT_MODEL_NAME, STRING_MODEL_NAME
from core.settings import DigitsSettings

# What `digits train` trains, in this order, unless --only names one.
MODELS = ("digits", "strings")


class TrainerEnv(DigitsSettings):
    """The ``DIGITS_*`` variables behind the trainer's flags' defaults."""

    mnist_dir: str | None = None
    model_base: str = "models"
    model_name: str = DEFAULT_MODEL_NAME
    train_epochs: int = Field(24, ge=1)
    train_precision: str = "auto"
    string_model_name: str = STRING_MODEL_NAME
    string_steps: int = Field(9000, ge=1)
    string_n_train: int = Field(60_000, ge=1)


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
    # Which models to train (MODELS order), and the string model's recipe (trainer.strings).
    models: tuple[str, ...] = MODELS
    string_model_name: str = STRING_MODEL_NAME
    string_steps: int = 9000
    string_n_train: int = 60_000
    string_n_val: int = 2000
    string_n_eval: int = 3000
    string_batch: int = 32
    string_seed: int = 1
    string_workers: int = 2
    string_channels: tuple[int, ...] = (16, 32, 48, 64)
    string_units: int = 64
    real_dev: str | None = None


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> TrainerSettings:
    """Parse trainer flags; unset flags fall back to ``DIGITS_*`` variables, then defaults."""
    env = TrainerEnv.from_env(environ)
    parser = argparse.ArgumentParser(
        prog="digits train",
        description="Train and export the digit model, then the string model (--only to train one).")
    parser.add_argument("--data-dir", default=env.mnist_dir,
                        help="folder with the MNIST IDX files (env DIGITS_MNIST_DIR); "
                             "without it, Keras downloads MNIST")
    parser.add_argument("--model-base", default=env.model_base,
                        help="model base path (env DIGITS_MODEL_BASE, default ./models)")
    parser.add_argument("--only", choices=MODELS, default=None,
                        help="train only this model (default: the digit model, then the string model)")
    parser.add_argument("--name", dest="model_name", default=env.model_name,
                        help="the digit model's name (env DIGITS_MODEL_NAME, default digits)")
    parser.add_argument("--epochs", type=int, default=env.train_epochs, help="digit model: epochs")
    parser.add_argument("--limit", type=int, default=None,
                        help="digit model: train on only the first N training images (quick runs)")
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
    strings = parser.add_argument_group("string model", "the recipe's defaults (trainer.strings)")
    strings.add_argument("--string-name", dest="string_model_name", default=env.string_model_name,
                         help="the string model's name (env DIGITS_STRING_MODEL_NAME, default strings)")
    strings.add_argument("--string-steps", type=int, default=env.string_steps,
                         help="training steps (env DIGITS_STRING_STEPS, default 9000)")
    strings.add_argument("--string-n-train", type=int, default=env.string_n_train,
                         help="synthetic training strings (env DIGITS_STRING_N_TRAIN, default 60000)")
    strings.add_argument("--string-n-val", type=int, default=2000,
                         help="synthetic validation strings, for progress and calibration figures")
    strings.add_argument("--string-n-eval", type=int, default=3000,
                         help="synthetic test strings (held-out MNIST training digits) for metrics.json")
    strings.add_argument("--string-batch", type=int, default=32)
    strings.add_argument("--string-seed", type=int, default=1, help="the same seed gives the same model")
    strings.add_argument("--string-workers", type=int, default=2, help="processes generating the strings")
    strings.add_argument("--string-channels", type=_channels, default=(16, 32, 48, 64),
                         help="CNN channels, four comma-separated numbers (tests use a narrow model)")
    strings.add_argument("--string-units", type=int, default=64, help="sequence width is twice this")
    strings.add_argument("--real-dev", default=None, metavar="DIR",
                         help="a folder of real strings (labels.csv: path,label) to report figures on, per "
                              "source; for validation only, never trained on")
    parser.add_argument("--if-missing", action="store_true",
                        help="skip each model that already has a version")
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
    for flag in ("string_steps", "string_n_train", "string_n_val", "string_n_eval", "string_batch",
                 "string_workers", "string_units"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.string_n_train < args.string_batch * 16:
        parser.error("--string-n-train must hold at least 16 batches (--string-batch x 16)")
    only = vars(args).pop("only")
    return TrainerSettings(**vars(args), models=(only,) if only else MODELS)


def _channels(text: str) -> tuple[int, ...]:
    try:
        channels = tuple(int(part) for part in text.split(","))
    except ValueError:
        channels = ()
    if len(channels) != 4 or min(channels) < 1:
        raise argparse.ArgumentTypeError(f"expected four positive numbers such as 16,32,48,64, not {text!r}")
    return channels
