"""Synthetic handwritten digit strings built from MNIST *training* digits (the string model's
training data, and its synthetic validation).

Every string is drawn like a person writes it, then photographed or scanned:

1. **Glyphs** (:mod:`scans.synth.glyphs`). Each digit is one MNIST training image of that
   class (:mod:`scans.synth.bank`), cropped, reduced to its centre line, scaled to the
   writer's digit height, slanted, rotated and bent a little; national forms (a European
   ``1`` with a flag and optional foot, a crossed ``7``) are drawn for the whole string.
2. **Layout** (:mod:`scans.synth.layout`). Digits left to right with the writer's spacing
   (touching and overlapping too), jitter of size and baseline, a slope, optional cursive
   joins; marks the label ignores (separators, dashes, slashes, trailing flourishes,
   underlines, ticks) with the same pen; then the whole skeleton is redrawn with one round
   pen, from ballpoint to marker, with optional skips and uneven ink.
3. **Paper and capture** (:mod:`scans.synth.paper`, :mod:`scans.synth.render`). Paper level
   and texture, lighting, security print, ruled lines, printed boxes, scanner margins, ink,
   blur, sensor noise, JPEG, rarely a negative, all in luminance.

Nothing here reads a file: :meth:`Bank.from_mnist` takes the MNIST *training* split as arrays
(the trainer loads it) and keeps either the digits to train on or the ``HOLDOUT`` digits set
aside by a fixed permutation for synthetic validation. Everything is numpy and OpenCV and
deterministic: sample ``i`` of a set with seed ``s`` is drawn with ``default_rng([s, i])``
(:func:`sample`), so a set is the same whichever number of processes builds it. This is a
port of the research generator (strlab ``synth.py``) and draws the very same samples;
``VERSION`` changes whenever the samples do.

The public API: :class:`Bank` (and :func:`split_indices`, which digits each split keeps),
:func:`render` ``(rng, bank) -> Sample`` (grey uint8 image, label, per-digit x-extents in image
columns), :func:`sample` ``(bank, seed, index)``, and :func:`contact_sheet` (PNG bytes of
samples and their prepared model inputs).
"""

from scans.synth.bank import HOLDOUT, SPLIT_SEED, SPLITS, Bank, split_indices
from scans.synth.render import Sample, render, sample
from scans.synth.sheet import contact_sheet

VERSION = 6  # bump when samples change (5: elastic glyph distortion; 6: same, vectorised)

__all__ = ["HOLDOUT", "SPLITS", "SPLIT_SEED", "VERSION", "Bank", "Sample", "contact_sheet", "render", "sample",
           "split_indices"]
