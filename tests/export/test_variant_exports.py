"""Export of the variants' own heads beyond the tiny test detector
(SpineNet-Mobile-49XS with a one-conv separable head, whose SavedModel,
TFLite and int8 paths `test_saved_model.py` / `test_tflite.py` check; the
SavedModel path runs the head-agnostic `serving_outputs`):
SpineNet-49S's plain-conv 4 x 128 head converts to an fp32 TFLite within
1e-3 of Keras, and SpineNet-Mobile-49's 4 x 48 separable head quantizes to
an int8 file that runs on XNNPACK. Both at 128 px."""

import ai_edge_litert.interpreter  # noqa: F401
import numpy as np
import pytest
from support import TINY_SIZE as SIZE
from support import images_of_sizes, run_on_xnnpack, run_tflite, tiny_detector

from spinenet_tf.export import convert_to_tflite


@pytest.mark.slow
def test_spinenet_49s_head_converts_to_fp32_tflite_within_1e_3():
    model = tiny_detector("spinenet-49s", head_num_convs=None, short=False)
    image = images_of_sizes([(SIZE, SIZE)], seed=7)[0]
    outputs, _ = run_tflite(convert_to_tflite(model, post_processing=False), image)
    raw = model.tflite_outputs(model.preprocessor.normalize(image[None]),
                               post_processing=False)
    for key in ("class_logits", "box_deltas"):
        np.testing.assert_allclose(outputs[key], raw[key], atol=1e-3)


@pytest.mark.slow
def test_mobile_49_int8_runs_on_xnnpack(tmp_path):
    model = tiny_detector("spinenet-mobile-49", head_num_convs=None, short=False)
    image = images_of_sizes([(SIZE, SIZE)], seed=7)[0]
    int8 = convert_to_tflite(model, "int8", uint8_input=True,
                             representative_images=images_of_sizes([(SIZE, SIZE)] * 4))
    on_xnnpack = run_on_xnnpack(int8, image, str(tmp_path))
    count = int(on_xnnpack["num_detections"][0])
    assert on_xnnpack["detection_boxes"].shape == (1, 100, 4)
    assert count > 0 and np.all(on_xnnpack["detection_scores"][0, :count] >= 0.05)
