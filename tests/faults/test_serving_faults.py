"""Fault injection, serving: bad requests to each signature of an exported
SavedModel are errors, and afterwards the same SavedModel still serves the
same detections."""

import numpy as np
import pytest
import tensorflow as tf
from support import images_of_sizes, tiny_detector

from spinenet_tf.export import export_saved_model

ERRORS = (TypeError, ValueError, tf.errors.InvalidArgumentError)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = export_saved_model(tiny_detector(), str(tmp_path_factory.mktemp("s") / "export"))
    loaded = tf.saved_model.load(path)
    image = images_of_sizes([(48, 64)], seed=1)[0]
    good = {"serve_image_tensor": {"images": tf.constant(image[None])},
            "serve_encoded_image": {"encoded_images": tf.constant(
                [tf.io.encode_png(image).numpy()])}}
    before = {name: loaded.signatures[name](**inputs) for name, inputs in good.items()}
    return loaded, good, before


PNG = tf.io.encode_png(np.zeros((8, 8, 3), "uint8")).numpy()

BAD_REQUESTS = [
    ("serve_image_tensor", {"images": tf.zeros([1, 32, 32, 3], tf.float32)}, "uint8"),
    ("serve_image_tensor", {"images": tf.zeros([1, 32, 32, 3], tf.int32)}, "uint8"),
    ("serve_image_tensor", {"images": tf.zeros([32, 32, 3], tf.uint8)},
     r"Shape of tensor .*\[32,32,3\] is not compatible with expected shape \[\?,\?,\?,3\]"),
    ("serve_image_tensor", {"images": tf.zeros([1, 32, 32, 4], tf.uint8)},
     r"\[1,32,32,4\] is not compatible with expected shape \[\?,\?,\?,3\]"),
    ("serve_image_tensor", {"images": tf.zeros([1, 0, 0, 3], tf.uint8)},
     "images must have a height and width of at least 1 pixel"),
    ("serve_encoded_image", {"encoded_images": tf.constant([b"\x00garbage bytes"])},
     "Unknown image file format"),
    ("serve_encoded_image", {"encoded_images": tf.constant([PNG[:len(PNG) // 2]])},
     "Invalid PNG"),
    ("serve_encoded_image", {"encoded_images": tf.constant([b""])}, "image 0 of the batch is empty"),
    ("serve_encoded_image", {"encoded_images": tf.zeros([1], tf.uint8)}, "string"),
    ("serve_tf_example", {"serialized_examples": tf.constant([b"not a tf.Example"])},
     "Could not parse example input"),
]


@pytest.mark.parametrize("signature,inputs,message", BAD_REQUESTS,
                         ids=[f"{s}-{i}" for i, (s, _, _) in enumerate(BAD_REQUESTS)])
@pytest.mark.slow
def test_a_bad_request_is_an_error_and_the_model_still_serves(served, signature, inputs,
                                                             message):
    loaded, good, before = served
    with pytest.raises(ERRORS, match=message):
        loaded.signatures[signature](**inputs)
    for name, request in good.items():
        after = loaded.signatures[name](**request)
        for key in ("detection_boxes", "detection_scores", "num_detections"):
            np.testing.assert_array_equal(after[key], before[name][key], err_msg=key)
