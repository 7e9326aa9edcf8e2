"""``python -m trainer``: train and export a model version."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trainer.errors import TrainerError
from trainer.settings import parse_args


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    from trainer.train import run

    try:
        run(settings)
    except TrainerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
