"""Parameters and multiply-adds of SpineNet backbones and of each model
family's paper models on them.

    spinenet-summary --model spinenet-49 --image_size 640 [--json]
    spinenet-summary --all [--json]

MACs are counted from the built layers (see `utils.model_complexity`),
never looked up. `--all` builds every variant at its paper input size and
prints it beside the tf-models-official 2.20 parameter counts
(`backbones.variants`), then every registered family's paper models
(`registry.Family.paper_models`: 91 classes, the recipe's heads) beside
the reference's counts and the published parameters and MACs.
"""

import json
import sys

from absl import flags

from spinenet_tf import registry
from spinenet_tf.backbones.variants import VARIANTS, get_variant
from spinenet_tf.cli.errors import with_clear_errors
from spinenet_tf.cli.program import run_program
from spinenet_tf.utils.model_complexity import count_macs, count_parameters

MODEL = flags.DEFINE_string("model", "spinenet-49", f"One of {list(VARIANTS)}.")
IMAGE_SIZE = flags.DEFINE_integer(
    "image_size", None, "Square input side; default: the paper's size.")
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


def summarize_paper_model(family, name, image_size=None, num_classes=91):
    """Builds `family`'s paper model on one variant; its figures as a dict."""
    paper = family.paper_models[get_variant(name).name]
    size = image_size or get_variant(name).paper_image_size
    model = family.model_class.from_variant(name, num_classes, image_size=size,
                                            **dict(paper.settings))
    params = count_parameters(model)
    return {
        "model": f"{family.name}-{get_variant(name).name}",
        "image_size": size,
        "params": params,
        "macs": count_macs(model),
        "reference_params_tfm_2_20": paper.reference_params,
        "params_match_reference": params == paper.reference_params,
        "published_params": paper.published_params,
        "published_macs": paper.published_macs,
    }


def format_paper_table(rows):
    header = (f"{'model':<34}{'input':>6}{'params':>13}{'TFM 2.20':>13}"
              f"{'match':>7}{'GMACs':>9}{'published':>11}{'pub GMACs':>10}")
    lines = [header, "-" * len(header)]
    for r in rows:
        published, macs = r["published_params"], r["published_macs"]
        lines.append(
            f"{r['model']:<34}{r['image_size']:>6}{r['params']:>13,}"
            f"{r['reference_params_tfm_2_20']:>13,}"
            f"{'yes' if r['params_match_reference'] else 'NO':>7}"
            f"{r['macs'] / 1e9:>9.2f}"
            f"{(f'{published / 1e6:.2f}M' if published else '-'):>11}"
            f"{(f'{macs / 1e9:.1f}' if macs else '-'):>10}")
    return "\n".join(lines)


@with_clear_errors
def main(argv):
    del argv
    names = list(VARIANTS) if ALL.value else [get_variant(MODEL.value).name]
    size = None if ALL.value else IMAGE_SIZE.value
    rows, paper_rows = [], []
    for name in names:
        rows.append(summarize(name, size))
        for family in registry.families().values():
            if name in family.paper_models:
                paper_rows.append(summarize_paper_model(family, name, size))
        if not AS_JSON.value and ALL.value:
            print(f"built {name}", file=sys.stderr)
    if AS_JSON.value:
        print(json.dumps({"backbones": rows, "paper_models": paper_rows}, indent=2))
        return
    print(format_table(rows))
    print("\nparams: all weights incl. batch-norm statistics; GMACs: conv "
          "multiply-adds of the backbone for one image; TFM 2.20: "
          "tf-models-official 2.20 backbone (min 3, max 7); TFM 2.15: the "
          "published backbone size (the papers, MODEL_GARDEN.md).")
    if paper_rows:
        print()
        print(format_paper_table(paper_rows))
        print("\nEach family's paper model: 91 classes, the recipe's heads; GMACs: the "
              "whole network for one image; TFM 2.20: tf-models-official 2.20's factory "
              "on the same recipe; published: the papers' and MODEL_GARDEN.md's figures. "
              "49S and the mobile models differ from their papers in the installed "
              "reference code; we match the code.")


def run():
    run_program(main, __name__)


if __name__ == "__main__":
    run()
