"""Instance segmentation (Mask R-CNN, Cascade R-CNN): COCO inputs with
masks, box and mask AP, pictures with masks."""

import tensorflow as tf

from spinenet_tf.data.detection_input import DetectionInput
from spinenet_tf.models.base.detection_task import DetectionTask

# The reference's data pipeline crops each mask to its box at this size.
MASK_CROP_SIZE = 112


class InstanceSegmentationTask(DetectionTask):
    """A two-stage instance segmenter's experiment.

    Its data, evaluation images and geometry are the detection task's, with
    each annotation's mask (`load_coco(..., with_masks=True)`) cropped to its
    box; training batches are the dicts the model trains on (images and
    ground truth); evaluation scores boxes and pasted masks (`mask_AP`,
    ...); export writes the SavedModel (with `detection_masks`), not TFLite.
    """

    with_masks = True
    metric_names = ("AP", "AP50", "mask_AP", "mask_AP50")

    def check_data(self):
        self._check_eval_source(self.config.eval_data.source == "coco")
        super().check_data()

    @staticmethod
    def _check_eval_source(is_coco):
        if not is_coco:
            raise ValueError(
                "Instance segmentation evaluation reads a COCO folder (mask AP is scored "
                "against the annotation file's segmentations); eval_data is a 'tfrecord' "
                "source. Give eval_data the COCO annotations and image_dir (train_data may "
                "stay TFRecords with image/object/mask).")

    def input_parser(self, model, data, training, sources_are_paths=True):
        if not training:
            self._check_eval_source(sources_are_paths)
        return DetectionInput(
            model.preprocessor, training, max_boxes=data.max_boxes,
            aug_rand_hflip=data.aug_rand_hflip, aug_scale_min=data.aug_scale_min,
            aug_scale_max=data.aug_scale_max, seed=self.config.trainer.seed,
            strict=data.strict, shuffle_buffer=data.shuffle_buffer,
            sources_are_paths=sources_are_paths, mask_size=MASK_CROP_SIZE)

    def train_dataset(self, model, initial_step=0, input_context=None):
        """Batches of the model's training dicts (an unreadable image stays
        in as all padding: background targets only)."""
        batches = super().train_dataset(model, initial_step, input_context)

        def as_inputs(images, targets, weights):
            del weights
            return {"images": images, "image_shape": targets["image_info"][:, 1],
                    "boxes": targets["boxes"], "classes": targets["classes"],
                    "masks": targets["masks"]}

        return batches.map(tf.autograph.experimental.do_not_convert(as_inputs))

    # --- export --------------------------------------------------------

    def check_export(self, tflite=None):
        if tflite:
            raise ValueError(
                f"{self.config.model.type} exports a SavedModel (with detection_masks); a "
                f"TFLite file ({tflite}) is not built for it: its proposal and ROI ops "
                "have no TFLite post-processing op (docs/instance_segmentation.md).")
