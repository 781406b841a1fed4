"""Parameters and multiply-adds of SpineNet backbones and their RetinaNets.

    spinenet-summary --model spinenet-49 --image-size 640 [--json]
    spinenet-summary --all [--json]

MACs are counted from the built layers (see `model_complexity`), never
looked up. `--all` builds every variant at its paper input size and prints
it beside the tf-models-official 2.20 parameter counts (`backbones.variants`), then
the paper's RetinaNet on each (91 classes, 9 anchors, the recipe's head)
beside the TFM 2.20 counts and the published parameters and MACs.
"""

import json
import sys

from absl import app, flags

from spinenet_tf.backbones.variants import VARIANTS, get_variant
from spinenet_tf.model_complexity import count_macs, count_parameters
from spinenet_tf.retinanet.retinanet import RetinaNet
from spinenet_tf.retinanet.recipes import RETINANET_CONFIGS

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


def summarize_retinanet(name, image_size=None, num_classes=91):
    """Builds the paper's RetinaNet on one variant; its figures as a dict."""
    config = RETINANET_CONFIGS[get_variant(name).name]
    size = image_size or config.variant.paper_image_size
    model = RetinaNet.from_variant(name, num_classes=num_classes, image_size=size)
    params = count_parameters(model)
    return {
        "model": f"retinanet-{config.variant.name}",
        "image_size": size,
        "head": (f"{config.head_num_convs}x{config.head_num_filters}"
                 + (" sep" if config.use_separable_conv else "")),
        "params": params,
        "macs": count_macs(model),
        "reference_params_tfm_2_20": config.reference_params,
        "params_match_reference": params == config.reference_params,
        "published_params": config.published_params,
        "published_macs": config.published_macs,
    }


def format_retinanet_table(rows):
    header = (f"{'model':<32}{'input':>6}{'head':>10}{'params':>13}{'TFM 2.20':>13}"
              f"{'match':>7}{'GMACs':>9}{'published':>11}{'pub GMACs':>10}")
    lines = [header, "-" * len(header)]
    for r in rows:
        published, macs = r["published_params"], r["published_macs"]
        lines.append(
            f"{r['model']:<32}{r['image_size']:>6}{r['head']:>10}{r['params']:>13,}"
            f"{r['reference_params_tfm_2_20']:>13,}"
            f"{'yes' if r['params_match_reference'] else 'NO':>7}"
            f"{r['macs'] / 1e9:>9.2f}"
            f"{(f'{published / 1e6:.2f}M' if published else '-'):>11}"
            f"{(f'{macs / 1e9:.1f}' if macs else '-'):>10}")
    return "\n".join(lines)


def main(argv):
    del argv
    names = list(VARIANTS) if ALL.value else [MODEL.value]
    size = None if ALL.value else IMAGE_SIZE.value
    rows, detectors = [], []
    for name in names:
        rows.append(summarize(name, size))
        if get_variant(name).name in RETINANET_CONFIGS:
            detectors.append(summarize_retinanet(name, size))
        if not AS_JSON.value and ALL.value:
            print(f"built {name}", file=sys.stderr)
    if AS_JSON.value:
        print(json.dumps({"backbones": rows, "retinanets": detectors}, indent=2))
        return
    print(format_table(rows))
    print("\nparams: all weights incl. batch-norm statistics; GMACs: conv "
          "multiply-adds of the backbone for one image; TFM 2.20: "
          "tf-models-official 2.20 backbone (min 3, max 7); TFM 2.15: the "
          "published backbone size (the papers, MODEL_GARDEN.md).")
    if detectors:
        print()
        print(format_retinanet_table(detectors))
        print("\nRetinaNet: 91 classes, 9 anchors, the recipe's head (sep: "
              "separable convs); GMACs: backbone + head for one image; TFM "
              "2.20: tf-models-official 2.20's factory; published: the papers' "
              "figures (the papers, MODEL_GARDEN.md). 49S and the mobile models differ from "
              "their papers in the installed reference code; we match the code.")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
