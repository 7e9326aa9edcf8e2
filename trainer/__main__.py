"""``python -m trainer``: train and export a model version."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from trainer.console import quiet_native_output
from trainer.errors import TrainerError
from trainer.settings import parse_args


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    log = Path(settings.model_base) / settings.model_name / "train.log"
    with quiet_native_output(log, settings.verbose) as console:
        from trainer.train import run

        try:
            run(settings)
        except TrainerError as exc:
            print(f"error: {exc}", file=console)
            return 2
        except BaseException:
            print(f"error: training stopped; the traceback is in {log}", file=console)
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
