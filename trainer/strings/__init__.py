"""The string model: a whole digit string per input, read by a CNN + TCN trained with CTC.

Trained on synthetic strings only (:mod:`scans.synth`, from MNIST *training* digits), prepared
as the worker prepares scans (:func:`scans.strings.string_image`):

* :mod:`trainer.strings.data`: sets of prepared strings, built in spawned processes;
* :mod:`trainer.strings.model`: the network, the CTC loss, the recipe's defaults (``Config``),
  and how the served graph reads an image (``read``: the mean over three views);
* :mod:`trainer.strings.fit`: the width-bucketed training loop;
* :mod:`trainer.strings.evaluate`: figures on synthetic test strings and, for validation, on a
  real labelled set;
* :mod:`trainer.strings.export`, :mod:`trainer.strings.card`: the SavedModel and its card;
* :mod:`trainer.strings.finish`: the end of every version: calibration, figures, export;
* :mod:`trainer.strings.train`: the flow, ``run(settings)``;
* :mod:`trainer.strings.reexport`: a version's weights in today's serving graph, untrained.
"""
