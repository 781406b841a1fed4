"""Models, optimizers and datasets from an `ExperimentConfig`."""

import keras

from spinenet_tf.backbones.variants import get_variant
from spinenet_tf.training.learning_rate import StepwiseWithWarmup


def l2_regularizer(config):
    """The reference's L2: `l2(l2_weight_decay / 2)` on conv and dense kernels."""
    decay = config.losses.l2_weight_decay
    return keras.regularizers.L2(decay / 2.0) if decay else None


def build_backbone(config):
    model = config.model
    variant = get_variant(model.backbone)
    height, width = model.image_size
    kwargs = dict(
        input_shape=(height, width, 3), min_level=model.min_level,
        max_level=model.max_level, activation=model.activation,
        init_stochastic_depth_rate=model.init_stochastic_depth_rate,
        use_sync_bn=model.use_sync_bn, norm_momentum=model.norm_momentum,
        norm_epsilon=model.norm_epsilon, kernel_regularizer=l2_regularizer(config))
    if model.filter_size_scale is not None:
        kwargs["filter_size_scale"] = model.filter_size_scale
    if model.endpoints_num_filters is not None:
        kwargs["endpoints_num_filters"] = model.endpoints_num_filters
    return variant.builder(variant.model_id, **kwargs)


def build_model(config):
    """A RetinaNet or SpineNetClassifier as `config.model` describes."""
    from spinenet_tf.models.retinanet import RetinaNet
    from spinenet_tf.models.retinanet_configs import RETINANET_CONFIGS
    from spinenet_tf.models.spinenet_classifier import SpineNetClassifier

    model, losses = config.model, config.losses
    backbone = build_backbone(config)
    if model.type == "classifier":
        return SpineNetClassifier(
            backbone, model.num_classes, dropout_rate=model.dropout_rate,
            label_smoothing=model.label_smoothing,
            kernel_regularizer=l2_regularizer(config))
    recipe = RETINANET_CONFIGS.get(get_variant(model.backbone).name)

    def pick(value, recipe_field, default):
        if value is not None:
            return value
        return getattr(recipe, recipe_field) if recipe else default

    return RetinaNet(
        backbone, model.num_classes, min_level=model.min_level,
        max_level=model.max_level, num_scales=model.num_scales,
        aspect_ratios=model.aspect_ratios,
        anchor_size=pick(model.anchor_size, "anchor_size", 3.0),
        head_num_convs=pick(model.head_num_convs, "head_num_convs", 4),
        head_num_filters=pick(model.head_num_filters, "head_num_filters", 256),
        use_separable_conv=pick(model.use_separable_conv, "use_separable_conv", False),
        kernel_regularizer=l2_regularizer(config),
        focal_alpha=losses.focal_alpha, focal_gamma=losses.focal_gamma,
        huber_delta=losses.huber_delta, box_loss_weight=losses.box_loss_weight)


def build_optimizer(config):
    """SGD with momentum on the reference's warmup + stepwise schedule."""
    optimizer = config.optimizer
    if optimizer.type != "sgd":
        raise ValueError(f"optimizer.type must be 'sgd'; received {optimizer.type!r}.")
    schedule = StepwiseWithWarmup(optimizer.boundaries, optimizer.values,
                                  optimizer.warmup_steps, optimizer.warmup_learning_rate)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=optimizer.momentum,
                                global_clipnorm=optimizer.global_clipnorm)


def detection_examples(data):
    """Example dicts of a detection source, and its categories if known."""
    from spinenet_tf.data.coco import load_coco
    from spinenet_tf.data.detection_input import (
        examples_from_coco, examples_from_tfrecords)

    if data.source == "coco":
        if not (data.annotations and data.image_dir):
            raise ValueError("A 'coco' source needs `annotations` and `image_dir`.")
        dataset = load_coco(data.annotations, data.image_dir)
        return examples_from_coco(dataset), dataset, True
    if data.source == "tfrecord":
        if not data.file_pattern:
            raise ValueError("A 'tfrecord' source needs `file_pattern`.")
        return examples_from_tfrecords(data.file_pattern), None, False
    raise ValueError(
        f"Detection data must be 'coco' or 'tfrecord'; received {data.source!r}.")
