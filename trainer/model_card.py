"""The model card: a markdown page beside each exported version."""

from __future__ import annotations

from typing import Any


def model_card(metrics: dict[str, Any]) -> str:
    """Render ``metrics.json`` content as a model card for people."""
    test, scans, calib = metrics["test"], metrics["scans"], metrics["calibration"]
    training, data = metrics["training"], metrics["data"]
    per_class = "\n".join(
        f"| {d} | {v['precision']:.4f} | {v['recall']:.4f} |" for d, v in test["per_class"].items()
    )
    review = "\n".join(
        f"| {r['threshold']} | {r['accepted']:.2%} | {r['precision']:.4%} | "
        f"{r['errors_accepted']} | {r['errors_flagged']} |"
        for r in test["review"]
    )
    return f"""# Model card: {metrics['model_name']} version {metrics.get('version', '?')}

Reads one handwritten digit from a 28x28 image prepared by `scans.preprocess.preprocess`
(the MNIST convention: white ink on black, digit fitted to 20x20, centre of mass at the centre).

## Intended use
Forms, ZIP codes, meter readings, exam sheets and archives, one digit per input after
segmentation. Not for letters, symbols, or printed (typeset) digits of unusual fonts.

## Signature `serving_default`
| | name | dtype | shape |
| --- | --- | --- | --- |
| input | `images` | uint8 | [-1, 28, 28], 0..255, white ink on black |
| output | `probabilities` | float32 | [-1, 10], temperature-calibrated |
| output | `classes` | int64 | [-1] |

## Training
- Data: {data['source']}; {data['train_images']:,} training and {data['validation_images']:,} validation
  images from the MNIST training set. MNIST test images are never trained on.
- CNN (width {training['width']}), {training['epochs']} epochs, batch {training['batch_size']}, Adam with
  warm-up and cosine decay (peak {training['learning_rate']}), seed {training['seed']}.
- Train-time augmentation (elastic distortion, rotation, scale, shift, stroke thickness, blur,
  noise): {"on" if training["augmentation"] else "off"}.
- Training time: {training['seconds'] / 60:.1f} minutes on {training['machine']},
  {training.get('precision', 'float32')} arithmetic.

## Results
- MNIST test accuracy: **{test['accuracy']:.2%}** ({test['errors']} errors of {test['count']:,}).
- Scan-like test sets (MNIST test digits drawn as ink on paper, degraded, then read through the
  worker's preprocessing; exact match): single digits **{scans['single']['accuracy']:.2%}**, digits
  in printed boxes **{scans['boxed']['accuracy']:.2%}**, 2-6 digit numbers
  **{scans['number']['accuracy']:.2%}** ({scans['single']['count']:,} scans each).
- Calibration: temperature {calib['temperature']} fitted on the validation split; test ECE
  {test['ece']:.4f} (validation ECE {calib['validation_ece_before']:.4f} before,
  {calib['validation_ece_after']:.4f} after).

| digit | precision | recall |
| --- | --- | --- |
{per_class}

## needs_review
An answer is flagged when its calibrated confidence is below the threshold (default 0.9,
`DIGITS_REVIEW_THRESHOLD`). Measured on the MNIST test set:

| threshold | accepted | precision of accepted | errors accepted | errors flagged |
| --- | --- | --- | --- | --- |
{review}

## Limitations
Trained on MNIST's writers (American census staff and students); other scripts for digits
(for example the continental 1 and 7) are read less well. Several digits are read one by one
after the worker segments them; digits that touch heavily may be cut wrongly. Confidence is
calibrated on MNIST-like data; on degraded scans it is optimistic, so keep a review step for
high-stakes fields.

Files: `metrics.json`, `confusion_matrix.png`, `misclassified.png`,
`assets.extra/tf_serving_warmup_requests`.
"""
