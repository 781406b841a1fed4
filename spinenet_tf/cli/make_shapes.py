"""Writes the synthetic shapes dataset (COCO format, PNG images).

    spinenet-make-shapes --output_dir data/synthetic [--num_train 800]
        [--num_val 100] [--image_size 256] [--seed 0] [--min_side 12]
        [--shape_set basic|other]
"""

from absl import flags

from spinenet_tf.cli.errors import with_clear_errors
from spinenet_tf.cli.program import run_program
from spinenet_tf.data import synthetic

OUTPUT_DIR = flags.DEFINE_string("output_dir", "data/synthetic", "Where to write the dataset.")
NUM_TRAIN = flags.DEFINE_integer("num_train", 800, "Training images.")
NUM_VAL = flags.DEFINE_integer("num_val", 100, "Validation images.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 256, "Square image side in pixels.")
SEED = flags.DEFINE_integer("seed", 0, "Generator seed.")
MIN_SIDE = flags.DEFINE_integer("min_side", synthetic.MIN_SIDE, "Smallest shape side in pixels.")
SHAPE_SET = flags.DEFINE_enum("shape_set", "basic", list(synthetic.SHAPE_SETS),
                              "The classes: circle, square, triangle (basic) or ring, cross, "
                              "diamond (other).")


@with_clear_errors
def main(argv):
    del argv
    paths = synthetic.generate(OUTPUT_DIR.value, NUM_TRAIN.value, NUM_VAL.value,
                               IMAGE_SIZE.value, SEED.value, MIN_SIDE.value, SHAPE_SET.value)
    for split, path in paths.items():
        print(f"{split}: {path}")


def run():
    run_program(main, __name__)


if __name__ == "__main__":
    run()
