"""``python -m trainer.ship``: make freshly trained models the ones digits ships (maintainers).

    digits train --data-dir ../shared/data/mnist --model-base /tmp/ship
    python -m trainer.ship --model-base /tmp/ship --command "digits train --data-dir ../shared/data/mnist ..."

Copies the newest version of each model into ``trainer/shipped/`` and records it in
``trainer/shipped/MANIFEST.json`` with its provenance: the command that trained it, its seed,
the SHA-256 of the MNIST files it was trained on, the TensorFlow version, the machine and
the date, and the SHA-256 of every file (checked again before any install).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from contracts.models import DEFAULT_MODEL_NAME, METRICS_FILE, STRING_MODEL_NAME, existing_versions
from trainer.data import FILES
from trainer.shipped import SHIPPED_DIR, file_checksums, record


def provenance(folder: Path, command: str) -> dict[str, Any]:
    """What a shipped model says of how it was made, read from its metrics.json."""
    metrics = json.loads((folder / METRICS_FILE).read_text())
    data = file_checksums(metrics.get("data", {}).get("source", ""), FILES.values())
    return {
        "command": command,
        "seed": metrics.get("training", {}).get("seed"),
        "trained_version": metrics.get("version"),
        "data_sha256": data,
        "tensorflow": version("tensorflow"),
        "machine": metrics.get("training", {}).get("machine") or platform.machine(),
        "recorded": time.strftime("%Y-%m-%d"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.ship", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base", type=Path, required=True, help="where the models were trained")
    parser.add_argument("--command", required=True, help="the exact command that trained them")
    parser.add_argument("--models", default=f"{DEFAULT_MODEL_NAME},{STRING_MODEL_NAME}")
    args = parser.parse_args(argv)
    for name in args.models.split(","):
        versions = existing_versions(args.model_base, name)
        if not versions:
            parser.error(f"no {name!r} model in {args.model_base}")
        folder = args.model_base / name / str(versions[-1])
        shipped = record(args.model_base, name, versions[-1], provenance(folder, args.command), SHIPPED_DIR)
        print(f"shipped {name} (trained as version {versions[-1]}): {len(shipped.files)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
