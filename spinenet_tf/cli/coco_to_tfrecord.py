"""Writes a COCO-format folder as TFRecords in Model Garden's schema.

    spinenet-coco-to-tfrecord --annotations A.json --image_dir images/ \\
        --output_prefix out/train [--num_shards 1] [--include_masks]
"""

from absl import flags

from spinenet_tf.cli.errors import with_clear_errors
from spinenet_tf.cli.program import run_program
from spinenet_tf.data.coco import load_coco
from spinenet_tf.data.tfrecords import write_tfrecords

ANNOTATIONS = flags.DEFINE_string("annotations", None, "COCO annotation JSON.", required=True)
IMAGE_DIR = flags.DEFINE_string("image_dir", None, "Folder of the images.", required=True)
OUTPUT_PREFIX = flags.DEFINE_string("output_prefix", None, "Shard path prefix.", required=True)
NUM_SHARDS = flags.DEFINE_integer("num_shards", 1, "Number of shards.")
INCLUDE_MASKS = flags.DEFINE_boolean(
    "include_masks", False, "Also write each instance's mask (image/object/mask, PNG), "
    "for Mask R-CNN; the annotations' segmentations are checked.")


@with_clear_errors
def main(argv):
    del argv
    dataset = load_coco(ANNOTATIONS.value, IMAGE_DIR.value, with_masks=INCLUDE_MASKS.value)
    print(f"loaded {len(dataset.records)} images: {dataset.report}")
    for path in write_tfrecords(dataset, OUTPUT_PREFIX.value, NUM_SHARDS.value):
        print(path)


def run():
    run_program(main, __name__)


if __name__ == "__main__":
    run()
