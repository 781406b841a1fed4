"""The exported forms of a detector as detect functions.

`TFLiteDetector` runs a detection `.tflite` in LiteRT and `SavedModelDetector`
an exported SavedModel's `serve_image_tensor` signature; both are detect
functions of `spinenet_tf.evaluation` (an evaluation batch in, detections in
the original images' pixels out), so `evaluate_detector` scores them exactly
as it scores the Keras model. Each gets the evaluation batch's pixels
(`ImagePreprocessor.denormalize`): images already in the model's geometry,
as a phone app or a client sends them.
"""

import numpy as np
import tensorflow as tf

from spinenet_tf.ops.box_ops import boxes_to_original


def as_uint8(pixels):
    """What a client sends: pixels rounded to uint8."""
    return np.round(np.clip(np.asarray(pixels), 0, 255)).astype(np.uint8)


def pixels_of(preprocessor, images):
    """The 0..255 pixels [B, H, W, 3] of a batch of normalised model input."""
    return np.asarray(preprocessor.denormalize(np.asarray(images, "float32")))


def on_uint8_pixels(detect, preprocessor):
    """`detect` fed the batch rounded to uint8 pixels, as a SavedModel client
    sends them (so the two sides see the same input)."""
    def run(images, image_info):
        pixels = as_uint8(pixels_of(preprocessor, images))
        return detect(preprocessor.normalize(pixels), image_info)

    return run


def _to_original(boxes, counts, image_info):
    boxes = np.asarray(boxes_to_original(boxes, image_info))
    valid = np.arange(boxes.shape[1])[None] < np.asarray(counts)[:, None]
    return np.where(valid[..., None], boxes, 0.0)


class TFLiteDetector:
    """A `.tflite` from `convert_to_tflite` in LiteRT, with LiteRT's default
    XNNPACK delegate or, `xnnpack=False`, its built-in kernels only. Use 1
    thread for files with the op's regular NMS (see
    `TFLitePostProcessConfig.from_generator`)."""

    def __init__(self, flatbuffer, preprocessor, threads=2, xnnpack=True):
        from ai_edge_litert import interpreter as litert

        resolver = (litert.OpResolverType.AUTO if xnnpack else
                    litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.interpreter = litert.Interpreter(model_content=flatbuffer,
                                              num_threads=threads,
                                              experimental_op_resolver_type=resolver)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        (self.input_detail,) = self.runner.get_input_details().values()
        self.input_size = tuple(int(s) for s in self.input_detail["shape"][1:3])
        self.preprocessor = preprocessor
        self.threads = threads

    def run(self, pixels):
        """The file's outputs for one image already of the input size (0..255)."""
        value = np.asarray(pixels)[None]
        if self.input_detail["dtype"] == np.uint8:
            value = as_uint8(value)
        return self.runner(image=value.astype(self.input_detail["dtype"]))

    def __call__(self, images, image_info):
        """Detections of an evaluation batch in original pixels, our class ids
        (the op's classes are 0-based foreground)."""
        height, width = self.input_size
        outputs = [self.run(pixels) for pixels in pixels_of(self.preprocessor, images)]
        counts = np.array([int(o["num_detections"][0]) for o in outputs])
        # The op leaves its outputs past the count unwritten (any bits): zeros.
        valid = np.arange(outputs[0]["detection_scores"].shape[1])[None] < counts[:, None]

        def stacked(key):
            values = np.concatenate([o[key] for o in outputs])
            return np.where(valid.reshape(valid.shape + (1,) * (values.ndim - 2)), values, 0)

        boxes = stacked("detection_boxes") * [height, width, height, width]
        return {"detection_boxes": _to_original(boxes, counts, image_info),
                "detection_scores": stacked("detection_scores"),
                "detection_classes": (stacked("detection_classes").astype(int) + 1) * valid,
                "num_detections": counts}


class SavedModelDetector:
    """An exported detector's `serve_image_tensor` signature, sent the batch
    as uint8 pixels."""

    def __init__(self, export_dir, preprocessor):
        self.signature = tf.saved_model.load(export_dir).signatures["serve_image_tensor"]
        self.preprocessor = preprocessor

    def run(self, pixels):
        """The signature's outputs for a uint8 batch [B, H, W, 3]."""
        return {k: v.numpy() for k, v in self.signature(images=tf.constant(pixels)).items()}

    def __call__(self, images, image_info):
        # The SavedModel maps boxes back to the pixels it was sent (the
        # model's input size); `image_info` maps them on to the originals.
        out = self.run(as_uint8(pixels_of(self.preprocessor, images)))
        out["detection_boxes"] = _to_original(out["detection_boxes"],
                                              out["num_detections"], image_info)
        return out
