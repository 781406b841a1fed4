"""Parameters and multiply-adds of SpineNet backbones.

    python -m spinenet_tf.summary --model spinenet-49 --image-size 640 [--json]
    python -m spinenet_tf.summary --all [--json]

MACs are counted from the built layers (see `model_complexity`), never
looked up. `--all` builds every variant at its paper input size and prints
it beside the tf-models-official 2.20 parameter counts of REFERENCE.md.
"""

import json
import sys

from absl import app, flags

from spinenet_tf.backbones.variants import VARIANTS, get_variant
from spinenet_tf.model_complexity import count_macs, count_parameters

MODEL = flags.DEFINE_string("model", "spinenet-49", f"One of {list(VARIANTS)}.")
IMAGE_SIZE = flags.DEFINE_integer(
    "image-size", None, "Square input side; default: the paper's size.")
ALL = flags.DEFINE_boolean("all", False, "Summarise every variant.")
AS_JSON = flags.DEFINE_boolean("json", False, "Print JSON instead of a table.")


def summarize(name, image_size=None):
    """Builds one variant and returns its figures as a dict."""
    variant = get_variant(name)
    size = image_size or variant.paper_image_size
    model = variant.build(size)
    params = count_parameters(model)
    return {
        "model": variant.name,
        "image_size": size,
        "params": params,
        "macs": count_macs(model),
        "reference_params_tfm_2_20": variant.reference_params,
        "params_match_reference": params == variant.reference_params,
        "published_params_tfm_2_15": variant.published_params,
        "outputs": {k: list(v.shape[1:]) for k, v in model.output.items()},
    }


def format_table(rows):
    header = (f"{'model':<22}{'input':>6}{'params':>14}{'TFM 2.20':>14}"
              f"{'match':>7}{'GMACs':>9}{'TFM 2.15':>10}")
    lines = [header, "-" * len(header)]
    for r in rows:
        published = r["published_params_tfm_2_15"]
        lines.append(
            f"{r['model']:<22}{r['image_size']:>6}{r['params']:>14,}"
            f"{r['reference_params_tfm_2_20']:>14,}"
            f"{'yes' if r['params_match_reference'] else 'NO':>7}"
            f"{r['macs'] / 1e9:>9.2f}"
            f"{(f'{published / 1e6:.2f}M' if published else '-'):>10}"
        )
    return "\n".join(lines)


def main(argv):
    del argv
    names = list(VARIANTS) if ALL.value else [MODEL.value]
    rows = []
    for name in names:
        rows.append(summarize(name, None if ALL.value else IMAGE_SIZE.value))
        if not AS_JSON.value and ALL.value:
            print(f"built {name}", file=sys.stderr)
    if AS_JSON.value:
        print(json.dumps(rows if ALL.value else rows[0], indent=2))
    else:
        print(format_table(rows))
        print("\nparams: all weights incl. batch-norm statistics; GMACs: conv "
              "multiply-adds of the backbone for one image; TFM 2.20: "
              "tf-models-official 2.20 backbone (min 3, max 7); TFM 2.15: the "
              "published backbone size (REFERENCE.md).")


if __name__ == "__main__":
    app.run(main)
