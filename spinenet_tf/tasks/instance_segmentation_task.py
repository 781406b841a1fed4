"""Mask R-CNN instance segmentation: model, COCO inputs with masks, box and
mask AP, pictures."""

import inspect

from spinenet_tf.tasks.detection_task import DetectionTask

# The reference's data pipeline crops each mask to its box at this size.
MASK_CROP_SIZE = 112


class InstanceSegmentationTask(DetectionTask):
    """A Mask R-CNN experiment (`model.type: maskrcnn`).

    Its data, evaluation images and geometry are the detection task's, with
    each annotation's mask (`load_coco(..., with_masks=True)`) cropped to its
    box; training batches are the dicts `MaskRCNN` trains on; evaluation
    scores boxes and pasted masks (`mask_AP`, ...); export writes the
SavedModel (with `detection_masks`), not TFLite.
    """

    with_masks = True
    metric_names = ("AP", "AP50", "mask_AP", "mask_AP50")

    def build_network(self):
        from spinenet_tf.maskrcnn import MaskRCNN
        from spinenet_tf.maskrcnn.maskrcnn import TPU_FLAVOR_OPTIONS

        model = self.config.model
        options = dict(model.maskrcnn_options or {})
        known = set(inspect.signature(MaskRCNN.__init__).parameters) - {"self", "kwargs"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"model.maskrcnn_options has unknown keys {unknown}; "
                             f"MaskRCNN takes {sorted(known - {'backbone'})}.")
        convs, filters = model.head_num_convs, model.head_num_filters
        settings = dict(
            min_level=model.min_level, max_level=model.max_level,
            num_scales=model.num_scales, aspect_ratios=(0.5, 1.0, 2.0),
            anchor_size=model.anchor_size or 3.0,
            use_separable_conv=bool(model.use_separable_conv),
            kernel_regularizer=self.l2_regularizer())
        if model.flavor == "tpu":
            settings.update(TPU_FLAVOR_OPTIONS)
        if model.aspect_ratios:
            settings["aspect_ratios"] = model.aspect_ratios
        if convs is not None:
            settings.update(box_num_convs=convs, mask_num_convs=convs)
        if filters is not None:
            settings.update(rpn_num_filters=filters, box_num_filters=filters,
                            mask_num_filters=filters)
        settings.update(options)
        return MaskRCNN(self.build_backbone(), model.num_classes, **settings)

    def check_data(self):
        self._check_eval_source(self.config.eval_data.source == "coco")
        super().check_data()

    @staticmethod
    def _check_eval_source(is_coco):
        if not is_coco:
            raise ValueError(
                "Mask R-CNN evaluation reads a COCO folder (mask AP is scored against the "
                "annotation file's segmentations); eval_data is a 'tfrecord' source. Give "
                "eval_data the COCO annotations and image_dir (train_data may stay TFRecords "
                "with image/object/mask).")

    def input_parser(self, model, data, training, sources_are_paths=True):
        from spinenet_tf.data.detection_input import DetectionInput

        if not training:
            self._check_eval_source(sources_are_paths)
        return DetectionInput(
            model.preprocessor, training, max_boxes=data.max_boxes,
            aug_rand_hflip=data.aug_rand_hflip, aug_scale_min=data.aug_scale_min,
            aug_scale_max=data.aug_scale_max, seed=self.config.trainer.seed,
            strict=data.strict, shuffle_buffer=data.shuffle_buffer,
            sources_are_paths=sources_are_paths, mask_size=MASK_CROP_SIZE)

    def train_dataset(self, model, initial_step=0, input_context=None):
        """Batches of `MaskRCNN`'s training dicts (an unreadable image stays
        in as all padding: background targets only)."""
        batches = super().train_dataset(model, initial_step, input_context)

        def as_inputs(images, targets, weights):
            del weights
            return {"images": images, "image_shape": targets["image_info"][:, 1],
                    "boxes": targets["boxes"], "classes": targets["classes"],
                    "masks": targets["masks"]}

        return batches.map(as_inputs)

    # --- export --------------------------------------------------------

    def check_export(self, tflite=None):
        if tflite:
            raise ValueError(
                f"Mask R-CNN exports a SavedModel (with detection_masks); a TFLite file "
                f"({tflite}) is not built for it: its proposal and ROI ops have no "
                "TFLite post-processing op (docs/instance_segmentation.md).")
