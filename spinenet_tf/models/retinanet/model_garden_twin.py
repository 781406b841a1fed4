"""tf-models-official's (Model Garden's) twin of a RetinaNet and its
weights copied into ours: the parity tests' oracle, and the way a Model
Garden checkpoint of an architecture without a key table loads (the
`garden` extra).

The backbone goes through `backbones.model_garden_twin`; the head's layers
are paired by role (shared tower convs, per-level batch norms, predictors),
read through `compat.model_garden_internals`.
"""

import numpy as np
import tensorflow as tf

from spinenet_tf.backbones.model_garden_twin import (
    build_model_garden_backbone,
    copy_layer_pairs,
    require_model_garden,
    transfer_model_garden_weights,
)
from spinenet_tf.compat.model_garden_internals import retinanet_head_layers
from spinenet_tf.utils.checkpoint_files import resolve_checkpoint_prefix


def build_model_garden_retinanet(model, image_shape=None,
                                 nms_version="v2"):
    """The tf-models-official twin of a `spinenet_tf.RetinaNet`.

    Built with Model Garden's own factory (`build_retinanet`), an identity
    decoder, the same head, anchors, levels and post-processing settings,
    around `build_model_garden_backbone(model.backbone)`.
    """
    require_model_garden()
    import tf_keras
    from official.vision.configs import common, decoders
    from official.vision.configs import retinanet as retinanet_cfg
    from official.vision.modeling import factory

    backbone = build_model_garden_backbone(model.backbone, image_shape)
    height, width, channels = image_shape or model.backbone.image_shape
    anchors = model.anchor_generator
    decoder = model.detection_generator
    head_bn = model.head
    config = retinanet_cfg.RetinaNet(
        num_classes=model.num_classes,
        input_size=[height, width, channels],
        min_level=model.min_level,
        max_level=model.max_level,
        anchor=retinanet_cfg.Anchor(
            num_scales=anchors.num_scales,
            aspect_ratios=list(anchors.aspect_ratios),
            anchor_size=anchors.anchor_size),
        head=retinanet_cfg.RetinaNetHead(
            num_convs=model.head_num_convs,
            num_filters=model.head_num_filters,
            use_separable_conv=model.use_separable_conv),
        decoder=decoders.Decoder(type="identity"),
        norm_activation=common.NormActivation(
            activation=model.activation,
            use_sync_bn=head_bn.use_sync_bn,
            norm_momentum=head_bn.norm_momentum,
            norm_epsilon=head_bn.norm_epsilon),
        detection_generator=retinanet_cfg.DetectionGenerator(
            pre_nms_top_k=decoder.pre_nms_top_k,
            pre_nms_score_threshold=decoder.pre_nms_score_threshold,
            nms_iou_threshold=decoder.nms_iou_threshold,
            max_num_detections=decoder.max_detections,
            nms_version=nms_version),
    )
    input_specs = tf_keras.layers.InputSpec(shape=[None, height, width, channels])
    reference = factory.build_retinanet(input_specs, config, backbone=backbone)
    # A subclassed tf_keras model tracks its weights once it has been called.
    reference(np.zeros((1, height, width, channels), "float32"), training=True)
    return reference


def transfer_model_garden_retinanet_weights(reference, model):
    """Copies a Model Garden RetinaNet (backbone + head) into `model`."""
    transfer_model_garden_weights(reference.backbone, model.backbone)
    theirs, ours = retinanet_head_layers(reference.head), model.head
    pairs = []
    for tower in ("class", "box"):
        their_convs, their_norms = theirs[f"{tower}_convs"], theirs[f"{tower}_norms"]
        our_convs, our_norms = getattr(ours, f"{tower}_convs"), getattr(ours, f"{tower}_norms")
        if len(their_convs) != len(our_convs) or len(their_norms) != len(our_norms):
            raise ValueError(
                f"Head layouts differ: Model Garden {len(their_convs)} convs x "
                f"{len(their_norms)} levels, spinenet_tf {len(our_convs)} x "
                f"{len(our_norms)}.")
        pairs += list(zip(their_convs, our_convs))
        for their_level, level in zip(their_norms, ours.levels):
            pairs += list(zip(their_level, our_norms[level]))
    pairs += [(theirs["class_predictor"], ours.class_predictor),
              (theirs["box_predictor"], ours.box_predictor)]
    copy_layer_pairs(pairs, reference.head, ours, "head")
    return model


def load_model_garden_retinanet_checkpoint(model, checkpoint_path):
    """Loads a Model Garden RetinaNet checkpoint into a `spinenet_tf.RetinaNet`.

    Accepts checkpoints written by Model Garden's trainer
    (`tf.train.Checkpoint(model=...)`, optimizer and step ignored) and
    module checkpoints (`tf.train.Checkpoint(backbone=..., head=...)`, the
    model's `checkpoint_items`), by prefix or directory.
    """
    require_model_garden()
    path = resolve_checkpoint_prefix(checkpoint_path)
    reference = build_model_garden_retinanet(model)
    errors = []
    for items in (dict(model=reference), dict(reference.checkpoint_items)):
        # NaN marks every variable the checkpoint does not restore.
        for variable in reference.weights:
            variable.assign(np.full(variable.shape, np.nan, "float32"))
        try:
            tf.train.Checkpoint(**items).read(path).expect_partial()
        except (AssertionError, ValueError) as error:
            errors.append(str(error))
            continue
        missing = [v.path if hasattr(v, "path") else v.name
                   for v in reference.weights if np.isnan(v.numpy()).any()]
        if not missing:
            return transfer_model_garden_retinanet_weights(reference, model)
        errors.append(f"{len(missing)} variables not in the checkpoint, "
                      f"e.g. {missing[:3]}")
    raise ValueError(
        f"Checkpoint {path!r} does not fit {model.name}: as a trainer "
        f"checkpoint: {errors[0]}; as a module checkpoint: {errors[-1]}.")
