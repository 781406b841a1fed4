"""The published SpineNet checkpoints (presets): list them, convert one to a
model folder.

    spinenet-pretrained list [--json]
    spinenet-pretrained convert --name retinanet-spinenet-49 \\
        [--checkpoint spinenet-49.tar.gz] --output_dir models/retinanet-49

`convert` reads the preset's checkpoint (a local `.tar.gz`, folder or
prefix given with `--checkpoint`; otherwise the published URL, downloaded
once into Keras' cache), loads it into the model its family builds for
the preset and writes a folder that `export_saved_model.py --model_dir`
exports and `model.init_from` fine-tunes (`training/model_folder.py`).
"""

import json

from absl import app, flags

from spinenet_tf import registry
from spinenet_tf.cli.errors import with_clear_errors
from spinenet_tf.cli.interruptions import folder_not_written
from spinenet_tf.cli.program import run_program
from spinenet_tf.pretrained.loading import load_pretrained
from spinenet_tf.pretrained.preset import catalog_table, preset_record
from spinenet_tf.training.model_folder import preset_experiment, write_model_folder

NAME = flags.DEFINE_string("name", None, "The preset to convert (`list` shows them).")
CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "A local .tar.gz, folder or checkpoint prefix of the preset "
    "(default: download the published archive).")
OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where to write the model folder.")
IMAGE_SIZE = flags.DEFINE_integer(
    "image_size", None, "Input side of the converted model (default: the preset's; "
    "a multiple of 128).")
AS_JSON = flags.DEFINE_boolean("json", False, "`list`: print JSON.")

COMMANDS = ("list", "convert")


def convert(name, checkpoint, output_dir, image_size=None):
    """Loads preset `name` and writes its model folder; returns the folder."""
    preset = registry.get_preset(name)
    model = load_pretrained(preset.name, path=checkpoint, image_size=image_size)
    report = model.pretrained_report
    skipped = ", ".join(f"{len(names)} {rule}" for rule, names in
                        sorted(report["skipped"].items())) or "nothing"
    print(f"Loaded {report['loaded']} variables of {report['checkpoint']} "
          f"(skipped: {skipped})")
    for warning in report["warnings"]:
        print(f"Warning: {warning}")
    size = int(model.backbone.input.shape[1])
    return write_model_folder(model, preset_experiment(preset, size), output_dir)


def interruption():
    """What Ctrl-C left: `convert` writes its folder whole or not at all."""
    if OUTPUT_DIR.value:
        return folder_not_written(OUTPUT_DIR.value, "conversion")
    return "nothing was written"


@with_clear_errors(interrupted=interruption)
def main(argv):
    if len(argv) != 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"Give one command, {' or '.join(COMMANDS)}; received "
                             f"{argv[1:]}.")
    presets = list(registry.presets().values())
    if argv[1] == "list":
        if AS_JSON.value:
            print(json.dumps([preset_record(p) for p in presets], indent=1))
        else:
            print(catalog_table(presets))
        return
    if not NAME.value or not OUTPUT_DIR.value:
        raise app.UsageError("convert needs --name and --output_dir.")
    folder = convert(NAME.value, CHECKPOINT.value, OUTPUT_DIR.value, IMAGE_SIZE.value)
    print(f"Model folder written: {folder} (export it with export_saved_model.py "
          f"--model_dir {folder}; fine-tune with model.init_from: {folder})")


def run():
    run_program(main, __name__)


if __name__ == "__main__":
    run()
