"""The published SpineNet checkpoints: list them, convert one to a model folder.

    spinenet-pretrained list [--json]
    spinenet-pretrained convert --name retinanet-spinenet-49 \\
        [--checkpoint spinenet-49.tar.gz] --output_dir models/retinanet-49

`convert` reads the entry's checkpoint (a local `.tar.gz`, folder or
prefix given with `--checkpoint`; otherwise the published URL, downloaded
once into Keras' cache), loads it into the model the catalog describes and
writes a folder that `export_saved_model.py --model_dir` exports and
`model.init_from` fine-tunes (`spinenet_tf/pretrained/model_folder.py`).
"""

import json

from absl import app, flags

from spinenet_tf.cli.errors import with_clear_errors
from spinenet_tf.pretrained.catalog import CATALOG, ENTRIES, catalog_table

NAME = flags.DEFINE_enum("name", None, sorted(CATALOG), "The catalog entry to convert.")
CHECKPOINT = flags.DEFINE_string(
    "checkpoint", None, "A local .tar.gz, folder or checkpoint prefix of the entry "
    "(default: download the published archive).")
OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where to write the model folder.")
IMAGE_SIZE = flags.DEFINE_integer(
    "image_size", None, "Input side of the converted model (default: the entry's; "
    "a multiple of 128).")
AS_JSON = flags.DEFINE_boolean("json", False, "`list`: print JSON.")

COMMANDS = ("list", "convert")


def convert(name, checkpoint, output_dir, image_size=None):
    """Loads entry `name` and writes its model folder; returns the folder."""
    from spinenet_tf.pretrained.loading import load_pretrained
    from spinenet_tf.pretrained.model_folder import write_model_folder

    model = load_pretrained(name, path=checkpoint, image_size=image_size)
    report = getattr(model, "pretrained_report", None)
    if report:
        skipped = ", ".join(f"{len(names)} {rule}" for rule, names in
                            sorted(report["skipped"].items())) or "nothing"
        print(f"Loaded {report['loaded']} variables of {report['checkpoint']} "
              f"(skipped: {skipped})")
    return write_model_folder(model, CATALOG[name], output_dir)


@with_clear_errors
def main(argv):
    if len(argv) != 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"Give one command, {' or '.join(COMMANDS)}; received "
                             f"{argv[1:]}.")
    if argv[1] == "list":
        if AS_JSON.value:
            import dataclasses

            print(json.dumps([dataclasses.asdict(e) for e in ENTRIES], indent=1))
        else:
            print(catalog_table())
        return
    if not NAME.value or not OUTPUT_DIR.value:
        raise app.UsageError("convert needs --name and --output_dir.")
    folder = convert(NAME.value, CHECKPOINT.value, OUTPUT_DIR.value, IMAGE_SIZE.value)
    print(f"Model folder written: {folder} (export it with export_saved_model.py "
          f"--model_dir {folder}; fine-tune with model.init_from: {folder})")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
