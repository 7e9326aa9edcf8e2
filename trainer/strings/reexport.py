"""``python -m trainer.strings.reexport``: a string model version's weights in today's serving
graph, without training them again (maintainers).

    python -m trainer.strings.reexport --from trainer/shipped/strings \\
        --data-dir ../shared/data/mnist --model-base /tmp/ship --real-dev ../shared/data/real-dev

When what the served graph does around the network changes (how it reads an image, how its
confidence is computed) and the network does not, the weights need no new training. This
builds the network its metrics.json records, loads the weights from its SavedModel, re-fits
the calibration on the same validation strings (made again from their seed), measures it
again and exports the next version. Its metrics.json keeps the training record and names the
version the weights came from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import keras

from contracts.models import METRICS_FILE, STRING_MODEL_NAME
from trainer.errors import ExportError


def load_weights(folder: Path, model: keras.Model) -> None:
    """Set every weight of ``model`` from the SavedModel in ``folder``, matched by name and
    shape (ExportError names the first that is missing or differs)."""
    import tensorflow as tf

    saved = {variable.name.removesuffix(":0"): variable for variable in tf.saved_model.load(str(folder)).variables}
    for weight in model.weights:
        found = saved.get(weight.path)
        if found is None or tuple(found.shape) != tuple(weight.shape):
            raise ExportError(f"{folder}: no weight {weight.path!r} of shape {tuple(weight.shape)} "
                              f"(found {None if found is None else tuple(found.shape)})")
        weight.assign(found.numpy())


def reexport(source: Path, data_dir: str | None, model_base: str | Path, real_dev: str | None = None,
             name: str = STRING_MODEL_NAME, workers: int = 2) -> Path:
    """Export ``source``'s weights as the next version of ``name`` in ``model_base``."""
    from scans.synth import VERSION
    from trainer.data import load_mnist
    from trainer.strings.data import Generator
    from trainer.strings.finish import Destination, evaluate_and_export, held_out_sets
    from trainer.strings.model import Config, build

    recorded: dict[str, Any] = json.loads((source / METRICS_FILE).read_text())
    training, data_info = recorded["training"], recorded["data"]
    if data_info["generator_version"] != VERSION:
        # Its validation strings could not be made again: the calibration would be fitted on others.
        raise ExportError(f"{source}: trained with string generator version {data_info['generator_version']}, "
                          f"this is version {VERSION}: train it again instead")
    fields = {key: training[key] for key in Config.__dataclass_fields__}
    model, _ = build(Config(**{**fields, "channels": tuple(fields["channels"])}))
    load_weights(source, model)
    data = load_mnist(data_dir)
    with Generator(data.x_train, data.y_train, workers) as generator:
        val_set, test_set = held_out_sets(generator, data_info["validation_seed"], data_info["validation_strings"],
                                          data_info["test_strings"])
    weights_from = {"model_name": recorded.get("model_name"), "version": recorded.get("version"),
                    "synthetic_exact": recorded.get("synthetic", {}).get("exact")}
    return evaluate_and_export(model, data, val_set, test_set, Destination(model_base, name, real_dev),
                               training={**training, "weights_from": weights_from}, data_info=data_info,
                               sheet_seed=training["seed"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.strings.reexport", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, required=True,
                        help="a string model version's folder (its SavedModel and metrics.json)")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files the model was trained on")
    parser.add_argument("--model-base", type=Path, required=True, help="where the new version goes")
    parser.add_argument("--real-dev", help="a labelled real folder to measure on (validation only)")
    parser.add_argument("--name", default=STRING_MODEL_NAME)
    args = parser.parse_args(argv)
    reexport(args.source, args.data_dir, args.model_base, args.real_dev, args.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
