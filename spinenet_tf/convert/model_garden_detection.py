"""Import whole tf-models-official RetinaNet and classification models.

The backbone goes through `model_garden.transfer_model_garden_weights`;
the RetinaNet head's layers carry names in Model Garden
(`classnet-conv_0`, `classnet-conv-norm_3_0`, `scores`, ...), so they are
paired by attribute: shared tower convs, per-level batch norms, predictors.
"""

import numpy as np

from spinenet_tf.convert.model_garden import (
    build_model_garden_backbone,
    copy_layer_pairs,
    copy_layer_weights,
    load_model_garden_backbone_checkpoint,
    require_model_garden,
    resolve_checkpoint_prefix,
    transfer_model_garden_weights,
)


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
    decoder = model.detection_decoder
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
            activation=model.head_activation,
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
    theirs, ours = reference.head, model.head
    pairs = []
    for their_tower, our_tower in (("_cls", "class"), ("_box", "box")):
        their_convs = getattr(theirs, f"{their_tower}_convs")
        our_convs = getattr(ours, f"{our_tower}_convs")
        their_norms = getattr(theirs, f"{their_tower}_norms")
        our_norms = getattr(ours, f"{our_tower}_norms")
        if len(their_convs) != len(our_convs) or len(their_norms) != len(our_norms):
            raise ValueError(
                f"Head layouts differ: Model Garden {len(their_convs)} convs x "
                f"{len(their_norms)} levels, spinenet_tf {len(our_convs)} x "
                f"{len(our_norms)}.")
        pairs += list(zip(their_convs, our_convs))
        for their_level, level in zip(their_norms, ours.levels):
            pairs += list(zip(their_level, our_norms[level]))
    pairs += [(theirs._classifier, ours.class_predictor),
              (theirs._box_regressor, ours.box_predictor)]
    copy_layer_pairs(pairs, theirs, ours, "head")
    return model


def transfer_model_garden_classifier_weights(reference, model):
    """Copies a Model Garden `ClassificationModel` into a SpineNetClassifier."""
    import tf_keras

    transfer_model_garden_weights(reference.backbone, model.backbone)
    dense = [l for l in reference.layers if isinstance(l, tf_keras.layers.Dense)]
    norms = [l for l in reference.layers
             if isinstance(l, tf_keras.layers.BatchNormalization)]
    copy_layer_weights(dense[0], model.get_layer("logits"), "logits")
    if model.add_head_batch_norm:
        copy_layer_weights(norms[0], model.get_layer("head_bn"), "head_bn")
    return model


def load_model_garden_retinanet_checkpoint(model, checkpoint_path):
    """Loads a Model Garden RetinaNet checkpoint into a `spinenet_tf.RetinaNet`.

    Accepts checkpoints written by Model Garden's trainer
    (`tf.train.Checkpoint(model=...)`, optimizer and step ignored) and
    module checkpoints (`tf.train.Checkpoint(backbone=..., head=...)`, the
    model's `checkpoint_items`), by prefix or directory.
    """
    require_model_garden()
    import tensorflow as tf

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


def load_model_garden_checkpoint(model, checkpoint_path):
    """Loads a Model Garden checkpoint into a spinenet_tf model.

    A `RetinaNet` takes a RetinaNet checkpoint (trainer or module
    checkpoint: backbone and head); a `SpineNet` / `SpineNetMobile` takes a
    backbone checkpoint. The file is read by its keys
    (`model_garden_checkpoint`: no tf-models-official needed) when the model
    has a named variant's architecture with its recipe's head; otherwise,
    with the `garden` extra installed, through the twin Model Garden model
    (`load_model_garden_retinanet_checkpoint`,
    `load_model_garden_backbone_checkpoint`).
    """
    from spinenet_tf.backbones.scale_permuted_backbone import ScalePermutedBackbone
    from spinenet_tf.convert.model_garden_checkpoint import (
        load_model_garden_checkpoint_by_keys)
    from spinenet_tf.retinanet.retinanet import RetinaNet

    if not isinstance(model, (RetinaNet, ScalePermutedBackbone)):
        raise ValueError(
            "Model Garden checkpoints load into a RetinaNet or a SpineNet / "
            f"SpineNet-Mobile backbone; received a {type(model).__name__} "
            f"({model.name!r}).")
    try:
        load_model_garden_checkpoint_by_keys(model, checkpoint_path)
        return model
    except ValueError as error:  # CheckpointMismatchError included
        try:
            require_model_garden()
        except ImportError:
            raise error from None
    if isinstance(model, RetinaNet):
        return load_model_garden_retinanet_checkpoint(model, checkpoint_path)
    return load_model_garden_backbone_checkpoint(model, checkpoint_path)
