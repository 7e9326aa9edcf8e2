"""``python -m trainer``: train and export a version of each model (the digit model, then the
string model), or of one (``--only``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from trainer.console import quiet_native_output
from trainer.errors import TrainerError
from trainer.settings import TrainerSettings, parse_args


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    for model in settings.models:
        code = _train(model, settings)
        if code:
            return code
    return 0


def _train(model: str, settings: TrainerSettings) -> int:
    """Train one model, its TensorFlow chatter in <model base>/<its name>/train.log."""
    name = settings.model_name if model == "digits" else settings.string_model_name
    log = Path(settings.model_base) / name / "train.log"
    with quiet_native_output(log, settings.verbose) as console:
        if model == "digits":
            from trainer.train import run
        else:
            from trainer.strings.train import run
        try:
            run(settings)
        except TrainerError as exc:
            print(f"error: {exc}", file=console)
            return 2
        except BaseException:
            print(f"error: training the {model} model stopped; the traceback is in {log}", file=console)
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
