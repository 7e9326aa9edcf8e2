"""The string model's card: a markdown page beside each exported version."""

from __future__ import annotations

from typing import Any


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ci(entry: dict[str, Any], key: str) -> str:
    low, high = entry[f"{key}_ci"]
    return f"{_pct(entry[key])} [{100 * low:.1f}-{100 * high:.1f}]"


def _rows(sets: dict[str, dict[str, Any]]) -> str:
    return "\n".join(f"| {name} | {entry['n']:,} | {_ci(entry, 'exact')} | {_ci(entry, 'length')} | "
                     f"{_ci(entry, 'digit')} | {entry['confidence']['ece']:.3f} | {entry['confidence']['auroc']} |"
                     for name, entry in sets.items())


def _thresholds(entry: dict[str, Any]) -> str:
    return "\n".join(f"| {row['threshold']} | {_pct(row['accepted'])} | {_pct(row['precision'])} | "
                     f"{_pct(row['errors_flagged'])} |" for row in entry["thresholds"])


def model_card(metrics: dict[str, Any]) -> str:
    """Render the string model's ``metrics.json`` content for people."""
    training, data, synthetic = metrics["training"], metrics["data"], metrics["synthetic"]
    sets = {f"synthetic test strings (seed {synthetic['seed']})": synthetic}
    real = metrics.get("real", {})
    sets |= {f"real: {source}": entry for source, entry in real.items() if isinstance(entry, dict)}
    calibration = metrics["calibration"]
    extents = synthetic.get("extents", {})
    real_note = (f"Real strings from `{real['folder']}` were only read after training, for validation: never "
                 "trained on, never used to choose anything in the recipe." if real else
                 "No real strings were given (`--real-dev`): the figures are synthetic only.")
    c = training["channels"]
    return f"""# Model card: {metrics['model_name']} version {metrics.get('version', '?')}

Reads a whole handwritten digit string (1 to {data['max_digits']} digits) at once, without cutting it
into digits: a CNN and a temporal convolution network over the 32 x 192 string image that
`scans.strings.string_image` makes (the string scaled to 32 rows, ink bright on black,
left-aligned), giving for each of 48 frames (4 input columns each) the probabilities of the CTC
blank and the ten digits, averaged over the image and the image moved a row up and a row down
(`trainer.strings.model.read`, in the graph). The worker reads each scan with this model and
the digit model and chooses an answer (`worker.reading`).

## Intended use
Digit strings whose digits touch, overlap, are joined or broken, or come with separators and
flourishes: phone numbers, amounts on cheques, reference and account numbers. Not for letters,
printed text, or strings of more than {data['max_digits']} digits (the worker leaves those to the digit model).

## Signature `serving_default`
| | name | dtype | shape |
| --- | --- | --- | --- |
| input | `images` | uint8 | [-1, 32, 192], 0..255, ink bright on black |
| output | `probabilities` | float32 | [-1, 48, 11]: class 0 the CTC blank, class d + 1 digit d |
| output | `confidence` | float32 | [-1]: the chance that the greedy reading is right, calibrated |

## Training
- Data: {data['train_strings']:,} synthetic strings (`scans.synth` version {data['generator_version']},
  seed {data['train_seed']}) drawn from the MNIST training digits minus {data['holdout_digits']:,} held out
  ({data['source']}); {data['validation_strings']:,} validation strings (seed {data['validation_seed']}) and
  the test strings from the held-out digits only. MNIST test digits are never used.
- Network: {metrics['model']['params']:,} parameters; convolutions {c[0]}, {c[1]}, {c[2]}, {c[2]}, {c[3]}
  channels, three residual dilated 1-D convolutions of {2 * training['units']}.
- CTC loss, AdamW (weight decay {training['weight_decay']}, gradients clipped at norm 5), warm-up over
  {training['warmup']} steps to {training['learning_rate']} then cosine decay; {training['steps']:,} steps of
  {training['batch']} strings, width-bucketed (mean {training['mean_width']} of 192 columns); contrast and
  noise varied per batch; seed {training['seed']} (the same seed gives the same model).
- Time: {data['generation_seconds'] / 60:.1f} minutes generating, {training['seconds'] / 60:.1f} minutes training
  ({training['images_per_second']} strings/s) on {training['machine']}.
{_weights_note(training)}
## Results
Exact match of the whole string, right number of digits, digit accuracy (1 - edit distance
per true digit); 95% Wilson intervals. ECE and AUROC are of the model's `confidence` output.

| set | strings | exact | right length | digits | ECE | AUROC |
| --- | --- | --- | --- | --- | --- | --- |
{_rows(sets)}

{real_note}

Digit boxes (the columns each digit's frames give, mapped to the image), on synthetic
strings read right: mean IoU {extents.get('mean_iou', '-')} with the true extents, IoU >= 0.5 for
{_pct(extents.get('iou_ge_0.5'))}, centre inside the true extent for {_pct(extents.get('centre_inside'))}.

## Confidence and needs_review
The model's `confidence` output is the chance that its greedy reading is right:
sigmoid({calibration['a']:.3f} * log(score) {calibration['b']:+.3f}), where the score is the product of
each read digit's peak frame probability, fitted on the {calibration['fitted_on']} and computed
in the graph (the calibration travels with the version). On the synthetic test strings its
AUROC (right against wrong readings) is {synthetic['confidence']['auroc']} (the greedy path's probability:
{synthetic['path_probability']['auroc']}), and:

| threshold | accepted | exact among accepted | wrong readings flagged |
| --- | --- | --- | --- |
{_thresholds(synthetic['confidence'])}

## Limitations
Trained on synthetic strings only, from MNIST's writers (American census staff and students)
with European 1s and 7s, slant, spacing, joins, pens, paper and capture synthesised: writers
far outside MNIST's range, cursive and heavily joined cheque amounts, and strings cut by the
image edge read worse. Confidence is fitted to synthetic strings; on real ones it is less
sharp, so keep a review step for high-stakes fields.

Files: `metrics.json`, `contact_sheet.png` (generated samples and the model input made of
each), `assets.extra/tf_serving_warmup_requests`.
"""


def _weights_note(training: dict) -> str:
    source = training.get("weights_from")
    if not source:
        return ""
    return (f"- Weights: those of {source['model_name']} version {source['version']} (synthetic exact "
            f"{source['synthetic_exact']} as it read then), put in this serving graph without training "
            "(`trainer.strings.reexport`); the calibration was fitted again.\n")
