"""A job an experiment config describes: what its model, inputs and
evaluation are. `train.py`'s trainer, `export_saved_model.py` and the demo
ask the task instead of switching on the model's type."""

import os

import keras

from spinenet_tf.backbones.variants import flavor_options, get_variant


class Task:
    """Base of `DetectionTask` and `ClassificationTask`.

    A task is made from an `ExperimentConfig` (`task_for_config`) and
    answers: which model (`build_model`), how it is compiled
    (`compile_model`), which training stream (`train_dataset`), how it is
    evaluated (`evaluate`) and which of its metrics are the headline
    (`metric_names`), which pictures a finished run gets (`write_artifacts`),
    what metadata its `.tflite` carries (`tflite_metadata`) and how exports
    are checked (`verify_saved_model`, `verify_tflite`, `int8_ap_cost`).
    """

    def __init__(self, config):
        self.config = config
        self._checked_sources = set()
        self._coco_files = {}

    def data_config_name(self, data):
        """"train_data" or "eval_data": which section of the config `data` is."""
        return "train_data" if data is self.config.train_data else "eval_data"

    def check_source_images(self, data, paths):
        """Checks the image files of the data config `data` once per task
        (`spinenet_tf.data.image_files.check_image_files`): a missing folder,
        or more unreadable images than `max_unreadable_fraction`, is an
        error before any training step."""
        from spinenet_tf.data.image_files import check_image_files

        key = (data.image_dir, len(paths), data.max_unreadable_fraction)
        if key in self._checked_sources:
            return
        check_image_files(paths, data.image_dir, data.max_unreadable_fraction,
                          f"{self.data_config_name(data)}.image_dir")
        self._checked_sources.add(key)

    # --- the model -----------------------------------------------------

    def l2_regularizer(self):
        """The reference's L2: `l2(l2_weight_decay / 2)` on conv and dense kernels."""
        decay = self.config.losses.l2_weight_decay
        return keras.regularizers.L2(decay / 2.0) if decay else None

    def build_backbone(self):
        model = self.config.model
        variant = get_variant(model.backbone)
        height, width = model.image_size
        kwargs = dict(
            input_shape=(height, width, 3), min_level=model.min_level,
            max_level=model.max_level, activation=model.activation,
            init_stochastic_depth_rate=model.init_stochastic_depth_rate,
            use_sync_bn=model.use_sync_bn, norm_momentum=model.norm_momentum,
            norm_epsilon=model.norm_epsilon, kernel_regularizer=self.l2_regularizer())
        if model.filter_size_scale is not None:
            kwargs["filter_size_scale"] = model.filter_size_scale
        if model.endpoints_num_filters is not None:
            kwargs["endpoints_num_filters"] = model.endpoints_num_filters
        kwargs = {**flavor_options(variant.builder, model.flavor), **kwargs}
        if model.block_specs is not None:
            kwargs["block_specs"] = [
                (level, block_fn, tuple(offsets), is_output)
                for level, block_fn, offsets, is_output in model.block_specs]
        return variant.builder(variant.model_id, **kwargs)

    def build_network(self):
        """The config's network with fresh weights."""
        raise NotImplementedError

    def build_model(self):
        """The model to train or export: `build_network()`, initialised from
        `model.init_from` (a train.py folder's latest checkpoint) if set, in
        its quantization-aware form (`spinenet_tf.quantization_aware_model`)
        if `model.quantization_aware`."""
        from spinenet_tf.training.checkpoints import initialize_from_model_dir

        model = self.build_network()
        if self.config.model.init_from:
            initialize_from_model_dir(model, self.config.model.init_from)
        if self.config.model.quantization_aware:
            from spinenet_tf.quantization.inference_form import quantization_aware_model

            model = quantization_aware_model(model)
        return model

    def compile_model(self, model, optimizer):
        """Compiles `model` for `fit` with the trainer's settings."""
        model.compile(optimizer=optimizer, jit_compile=self.config.trainer.jit_compile)

    # --- data and evaluation -------------------------------------------

    def check_data(self):
        """Checks the data sources before any model is built: an error names
        what is wrong (`spinenet_tf.data.image_files`, the COCO reader)."""
        raise NotImplementedError

    def train_dataset(self, model, initial_step=0, input_context=None):
        """The endless training stream, `initial_step` batches in."""
        raise NotImplementedError

    # The headline metrics of `evaluate`: printed after each evaluation,
    # plotted in curves.png.
    metric_names = ()

    def evaluate(self, model, progress=True):
        """Metrics of `model` on `eval_data` (a dict of floats and lists)."""
        raise NotImplementedError

    def write_artifacts(self, model, folder):
        """Pictures of a finished run (none by default)."""

    # --- export ----------------------------------------------------------

    def check_export(self, tflite=None):
        """Raises, saying why, if this task's models cannot be exported in
        the forms asked for (`tflite`: the `.tflite` kinds, if any)."""

    def calibration_folder(self):
        """Images an int8 export calibrates on by default: the training images."""
        return self.config.train_data.image_dir

    def tflite_metadata(self, flatbuffer, model, summary):
        """The `.tflite` with the metadata its runtimes read (none by
        default); notes what was written in `summary`."""
        return flatbuffer

    def class_names(self, num_classes):
        """Names of the foreground classes 1..num_classes-1 (as a detection
        `.tflite` numbers them from 0), for its label file: the evaluation
        data's COCO categories where it has them, else "class_<id>"."""
        import json

        data = self.config.eval_data
        names = {}
        if data.source == "coco" and data.annotations and not os.path.exists(
                data.annotations):
            print(f"Labels are class_<id>: eval_data.annotations {data.annotations!r} "
                  "(for the category names) does not exist")
        elif data.source == "coco" and data.annotations:
            with open(data.annotations) as f:
                names = {c["id"]: c["name"] for c in json.load(f).get("categories", [])}
        return [names.get(k, f"class_{k}") for k in range(1, num_classes)]

    def verify_tflite(self, model, flatbuffer, quantization, nms="fast",
                      max_images=20, fp32_flatbuffer=None):
        """Checks an exported `.tflite` against `model` (and a quantized one
        against `fp32_flatbuffer`, converted if None); returns a summary."""
        raise ValueError(
            f"--verify checks detection exports; this is a "
            f"{self.config.model.type!r} experiment.")

    def int8_ap_cost(self, model, nms="fast", uint8_input=False):
        """A function from an int8 flatbuffer to the accuracy points it
        loses against `model`'s fp32 file on the evaluation data."""
        raise ValueError(
            f"The int8 AP budget measures detection exports; this is a "
            f"{self.config.model.type!r} experiment.")

    def verify_saved_model(self, model, export_dir, precision, max_images=20):
        """Checks the SavedModel in `export_dir` (exported from `model` in
        `precision`) against `model`; returns a summary."""
        raise ValueError(
            f"--verify checks detection exports; this is a "
            f"{self.config.model.type!r} experiment.")

