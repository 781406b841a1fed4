"""SavedModel signatures for TF Serving, with pre-processing in the graph.

Three request types, each a named signature (`serving_default` is the
image tensor one):

- `serve_image_tensor`: uint8 images `[batch, height, width, 3]`, any size;
- `serve_encoded_image`: encoded JPEG / PNG / BMP / GIF bytes `[batch]`
  (images of different sizes in one batch are fine);
- `serve_tf_example`: serialized tf.Example `[batch]` with the image in
  `image/encoded` (the COCO TFRecord schema).

Inside the graph each image goes through the model's own `preprocessor`
(its evaluation geometry: for a detector resized to fit the model input with
its aspect ratio kept and padded, for a classifier the centre crop; then
normalised, exactly as the evaluation pipeline; `ServingModule.model_inputs`
gives that input), then `model.serving_outputs`: a RetinaNet returns
`detection_boxes` (ymin, xmin, ymax, xmax in the original image's pixels),
`detection_scores`, `detection_classes` (int32 class ids, background 0
never returned) and `num_detections`; a Mask R-CNN adds `detection_masks`
[batch, 100, 28, 28] (probabilities inside each box, which
`evaluation.mask_pasting.paste_masks` pastes into the image), and with
`paste_masks=True` also `detection_pasted_masks` [batch, 100, height, width]
uint8, each mask pasted into its original image as COCO evaluation pastes
it (height x width: the largest image of the request; image b's masks in
its top-left corner); a classifier returns `logits` and `probabilities`.

Bad requests fail with an `InvalidArgumentError` naming what was wrong,
which TF Serving returns as an error response: the signatures only accept
their dtype and rank, and an undecodable image in a batch names its index.
"""

import os

import tensorflow as tf

from spinenet_tf.evaluation.mask_pasting import paste_masks_in_graph
from spinenet_tf.utils.atomic_files import atomic_directory

# Exports are for inference: not tracing gradient functions for the ops that
# have custom gradients cuts `tf.saved_model.save` of the demo model from
# 10 s to 3.6 s, and nothing that loads these files differentiates.
INFERENCE_SAVE_OPTIONS = tf.saved_model.SaveOptions(experimental_custom_gradients=False)


class ServingModule(tf.Module):
    """Wraps a RetinaNet, SpineNetClassifier or MaskRCNN for
    `tf.saved_model.save`.

    Args:
        model: a built task model whose `preprocessor` has a fixed input
            size (its input contract) and which has `serving_outputs`.
        batch_size: fixed batch size of the signatures, or None (dynamic).
        paste_masks: a Mask R-CNN also returns its masks pasted into each
            original image (`detection_pasted_masks`).
    """

    def __init__(self, model, batch_size=None, paste_masks=False):
        super().__init__()
        preprocessor = getattr(model, "preprocessor", None)
        size = None if preprocessor is None else tuple(preprocessor.image_size)
        if size is None or None in size:
            raise ValueError(
                "Export needs a model with a fixed input size (its preprocessor's); "
                f"received {size}.")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None; received {batch_size}.")
        # Only the variables are tracked, not the Keras model: tracked, it
        # would add its own traced functions (two more copies of the graph)
        # to the SavedModel. The list also covers Keras 3 layers held in
        # lists or dicts, which TensorFlow's tracking does not follow.
        self.model_variables = list(model.variables)
        self._serving_outputs = self._model_serving_outputs = model.serving_outputs
        if paste_masks:
            self._serving_outputs = self._with_pasted_masks
        self.input_size = (int(size[0]), int(size[1]))
        self.batch_size = batch_size
        self._preprocessor = model.preprocessor

    def _with_pasted_masks(self, images, image_info):
        outputs = dict(self._model_serving_outputs(images, image_info))
        if "detection_masks" not in outputs:
            raise ValueError("paste_masks pastes the model's detection_masks (a Mask R-CNN's); "
                             f"this model's serving outputs are {sorted(outputs)}.")
        sizes = tf.cast(tf.round(image_info[:, 0]), tf.int32)  # original (height, width)
        outputs["detection_pasted_masks"] = paste_masks_in_graph(
            outputs["detection_masks"], outputs["detection_boxes"],
            outputs["num_detections"], sizes, tf.unstack(tf.reduce_max(sizes, axis=0)))
        return outputs

    # --- pre-processing -------------------------------------------------

    def _prepare(self, image):
        return self._preprocessor.preprocess(tf.ensure_shape(image, [None, None, 3]))

    def _prepare_batch(self, images):
        return tf.map_fn(
            self._prepare, images,
            fn_output_signature=(
                tf.TensorSpec(self.input_size + (3,), tf.float32),
                tf.TensorSpec([4, 2], tf.float32)))

    def _decode(self, encoded):
        index, data = encoded
        not_empty = tf.debugging.assert_greater(
            tf.strings.length(data), 0,
            message=tf.strings.format("image {} of the batch is empty", index))
        # decode_image names the unknown format; the index says which one.
        # The check must run first: decoding an empty string fails with a
        # message that names no image, and the two ops are otherwise unordered.
        with tf.control_dependencies([not_empty]):
            return tf.io.decode_image(data, channels=3, expand_animations=False)

    def _prepare_encoded(self, data):
        def one(pair):
            index, encoded = pair
            return self._prepare(self._decode((index, encoded)))

        indices = tf.range(tf.shape(data, out_type=tf.int64)[0])
        return tf.map_fn(
            one, (indices, data),
            fn_output_signature=(
                tf.TensorSpec(self.input_size + (3,), tf.float32),
                tf.TensorSpec([4, 2], tf.float32)))

    def model_inputs(self, signature_name, request):
        """(model input, image_info) that signature `signature_name` makes of
        `request` (its one input), before the model runs."""
        if signature_name in ("serving_default", "serve_image_tensor"):
            # A request's shape is checked here: the signature only checks
            # its dtype. (EnsureShape names the shape received.)
            images = tf.ensure_shape(tf.convert_to_tensor(request, tf.uint8),
                                     [self.batch_size, None, None, 3])
            not_empty = tf.debugging.assert_greater(
                tf.reduce_min(tf.shape(images)[1:3]), 0,
                message="images must have a height and width of at least 1 pixel")
            with tf.control_dependencies([not_empty]):
                return self._prepare_batch(tf.identity(images))
        if signature_name == "serve_encoded_image":
            return self._prepare_encoded(tf.convert_to_tensor(request, tf.string))
        if signature_name == "serve_tf_example":
            features = tf.io.parse_example(tf.convert_to_tensor(request, tf.string), {
                "image/encoded": tf.io.FixedLenFeature([], tf.string)})
            return self._prepare_encoded(features["image/encoded"])
        raise ValueError("signature_name must be one of serving_default, "
                         "serve_image_tensor, serve_encoded_image, serve_tf_example; "
                         f"received {signature_name!r}.")

    # --- signatures -----------------------------------------------------

    def signatures(self):
        """The concrete functions to pass to `tf.saved_model.save`."""
        batch = self.batch_size
        # The model is traced once, behind every signature, so the SavedModel
        # holds its graph once instead of once per signature. (A local, not
        # an attribute: a tracked tf.function would be saved a second time.)
        # No autograph: this code's control flow is TensorFlow's own ops
        # (map_fn, control dependencies), so its source needs no rewriting.
        outputs = tf.function(self._serving_outputs, autograph=False, input_signature=[
            tf.TensorSpec([batch, *self.input_size, 3], tf.float32),
            tf.TensorSpec([batch, 4, 2], tf.float32)])

        @tf.function(autograph=False, input_signature=[
            tf.TensorSpec([batch, None, None, 3], tf.uint8, name="images")])
        def serve_image_tensor(images):
            return outputs(*self.model_inputs("serve_image_tensor", images))

        @tf.function(autograph=False, input_signature=[
            tf.TensorSpec([batch], tf.string, name="encoded_images")])
        def serve_encoded_image(encoded_images):
            return outputs(*self.model_inputs("serve_encoded_image", encoded_images))

        @tf.function(autograph=False, input_signature=[
            tf.TensorSpec([batch], tf.string, name="serialized_examples")])
        def serve_tf_example(serialized_examples):
            return outputs(*self.model_inputs("serve_tf_example", serialized_examples))

        image_tensor = serve_image_tensor.get_concrete_function()
        return {
            "serving_default": image_tensor,
            "serve_image_tensor": image_tensor,
            "serve_encoded_image": serve_encoded_image.get_concrete_function(),
            "serve_tf_example": serve_tf_example.get_concrete_function(),
        }


def export_saved_model(model, export_dir, batch_size=None, atomic=True, paste_masks=False):
    """Writes `model` with the serving signatures to `export_dir`; returns
    its absolute path. `atomic`: build it beside and rename it into place
    (`spinenet_tf.utils.atomic_files.atomic_directory`), so a killed or failed
    export leaves the previous SavedModel or none; False writes into
    `export_dir` directly (for a caller whose whole folder is atomic).
    `paste_masks`: a Mask R-CNN's signatures also return full-image masks
    (`ServingModule`)."""
    module = ServingModule(model, batch_size, paste_masks=paste_masks)
    signatures = module.signatures()
    if not atomic:
        tf.saved_model.save(module, export_dir, signatures=signatures,
                            options=INFERENCE_SAVE_OPTIONS)
        return os.path.abspath(export_dir)
    with atomic_directory(export_dir) as partial:
        tf.saved_model.save(module, partial, signatures=signatures,
                            options=INFERENCE_SAVE_OPTIONS)
    return os.path.abspath(export_dir)
