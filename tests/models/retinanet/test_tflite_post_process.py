"""The TFLite post-processing graph converts to TFLite's
`TFLite_Detection_PostProcess` op and, run by LiteRT, detects what the
batched TensorFlow path (`MultilevelDetectionGenerator`) detects."""

import numpy as np
import tensorflow as tf
from ai_edge_litert import interpreter as litert

from spinenet_tf.models.retinanet import MultilevelDetectionGenerator
from spinenet_tf.ops.anchor_generator import AnchorGenerator
from spinenet_tf.ops.tflite_detection_post_process import (
    TFLitePostProcessConfig,
    tflite_detection_post_process,
)


def test_converts_to_the_custom_op_and_matches_the_batched_path(tmp_path):
    generator = AnchorGenerator(3, 4)
    anchors = generator.flat_anchors(64, 64)
    num_classes = 4  # background + 3
    rng = np.random.default_rng(0)
    shapes = {"P3": (1, 8, 8), "P4": (1, 4, 4)}
    class_logits = {k: np.full(s + (9 * num_classes,), -10.0, "float32")
                    for k, s in shapes.items()}
    box_deltas = {k: rng.normal(0, 0.1, s + (36,)).astype("float32")
                  for k, s in shapes.items()}
    # Three separate, distinctly scored objects: (level, y, x, anchor, class).
    for level, y, x, anchor, cls, logit in [("P3", 2, 3, 4, 1, 2.0),
                                            ("P3", 6, 6, 4, 3, 1.0),
                                            ("P4", 1, 0, 0, 2, 0.5)]:
        class_logits[level][0, y, x, anchor * num_classes + cls] = logit
    expected = MultilevelDetectionGenerator(pre_nms_score_threshold=0.3, max_detections=10)(
        class_logits, box_deltas, anchors)
    assert int(expected["num_detections"][0]) == 3

    levels = list(shapes)
    config = TFLitePostProcessConfig(max_detections=10, max_classes_per_detection=1,
                                     nms_score_threshold=0.3)

    @tf.function(input_signature=[tf.TensorSpec((1, 8, 8, 36)), tf.TensorSpec((1, 4, 4, 36)),
                                  tf.TensorSpec((1, 8, 8, 36)), tf.TensorSpec((1, 4, 4, 36))])
    def post_process(logits3, logits4, deltas3, deltas4):
        return tflite_detection_post_process(
            dict(zip(levels, (logits3, logits4))), dict(zip(levels, (deltas3, deltas4))),
            anchors, config)

    # As for a real export: SavedModel, then the converter (which keeps the
    # annotated function intact only on this path).
    module = tf.Module()
    module.post_process = post_process
    tf.saved_model.save(module, str(tmp_path), signatures=post_process)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path))
    converter.allow_custom_ops = True
    flatbuffer = converter.convert()
    assert b"TFLite_Detection_PostProcess" in flatbuffer

    interpreter = litert.Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    inputs = [class_logits["P3"], class_logits["P4"], box_deltas["P3"], box_deltas["P4"]]
    for detail in interpreter.get_input_details():
        value = next(v for v in inputs if tuple(v.shape) == tuple(detail["shape"])
                     and (detail["name"].find("logits") >= 0) == (v is class_logits["P3"] or v is class_logits["P4"]))
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    # The op's outputs, in order: boxes, classes, scores, num_detections.
    boxes, classes, scores, count = (
        interpreter.get_tensor(d["index"])
        for d in sorted(interpreter.get_output_details(), key=lambda d: d["name"]))
    assert int(count[0]) == 3
    np.testing.assert_allclose(scores[0, :3], expected["detection_scores"][0, :3], rtol=1e-5)
    np.testing.assert_allclose(boxes[0, :3], expected["detection_boxes"][0, :3], atol=1e-3)
    # TFLite's classes are 0-based foreground indices: our class id - 1.
    np.testing.assert_array_equal(classes[0, :3] + 1, expected["detection_classes"][0, :3])
