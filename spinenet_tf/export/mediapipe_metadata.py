"""TFLite metadata for MediaPipe Tasks' ObjectDetector.

`add_detector_metadata` writes, with MediaPipe's own metadata writer
(`mediapipe.tasks.python.metadata.metadata_writers.object_detector`), what
`mediapipe.tasks.vision.ObjectDetector` needs to run a detection `.tflite`
that ends in `TFLite_Detection_PostProcess`: the input's normalisation,
the roles of the op's four outputs (boxes, classes, scores, count) and a
label file packed into the model. Needs the `mediapipe` extra.
"""

import gc

from spinenet_tf.compat.mediapipe_internals import metadata_writer_modules

# The normalisation the metadata declares: the file takes 0..255 pixels
# and normalises inside, so MediaPipe feeds them unchanged.
INPUT_MEAN, INPUT_STD = 0.0, 1.0


def mediapipe_available():
    """Whether MediaPipe's metadata writer can be imported."""
    try:
        metadata_writer_modules()
    except ImportError:
        return False
    return True


def add_detector_metadata(flatbuffer, labels):
    """`flatbuffer` (a detection `.tflite` with the post-processing op) with
    ObjectDetector metadata and `labels` (one name per 0-based foreground
    class, the op's class outputs) packed in; returns the new bytes."""
    object_detector, metadata_writer = metadata_writer_modules()
    if not labels:
        raise ValueError("ObjectDetector metadata needs the class names; received none.")
    writer = object_detector.MetadataWriter.create_for_models_with_nms(
        bytearray(flatbuffer), input_norm_mean=[INPUT_MEAN], input_norm_std=[INPUT_STD],
        labels=metadata_writer.Labels().add([str(label) for label in labels]))
    content, _ = writer.populate()
    # The writer holds a temporary folder in a reference cycle; collected at
    # interpreter exit, its cleanup fails noisily ("'NoneType' object has
    # no attribute 'path'"), so it is collected now.
    del writer
    gc.collect()
    return bytes(content)
