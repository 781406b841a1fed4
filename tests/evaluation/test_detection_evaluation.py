"""The Keras detect function every evaluation uses."""

import numpy as np
from support import TINY_SIZE, tiny_detector

from spinenet_tf.evaluation.detection_evaluation import keras_detect, serving_function


def test_keras_detection_traces_the_model_once_for_any_batch_size():
    """Evaluation batches, a drawing's few images and a latency run at batch
    1 share one traced graph (each trace of a SpineNet costs seconds)."""
    model = tiny_detector()
    detect = keras_detect(model)
    rng = np.random.default_rng(0)
    info = np.array([[TINY_SIZE] * 2, [TINY_SIZE] * 2, [1.0, 1.0], [0.0, 0.0]], "float32")
    for batch in (4, 1, 3):
        images = rng.normal(size=(batch, TINY_SIZE, TINY_SIZE, 3)).astype("float32")
        detections = detect(images, np.stack([info] * batch))
        assert detections["detection_boxes"].shape[0] == batch
    assert serving_function(model).experimental_get_tracing_count() == 1
