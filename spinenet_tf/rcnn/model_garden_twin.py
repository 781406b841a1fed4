"""tf-models-official's twin of a two-stage detector (Mask R-CNN, Cascade
R-CNN), and its weights copied into ours: the parity tests' oracle (the
`garden` extra).

Model Garden's `RPNHead`, `DetectionHead` and `MaskHead` keep their layers
in private lists (`_convs`, `_norms`, `_fcs`, ...), read through
`compat.model_garden_internals`; they are paired with ours by role, shapes
checked, every weight of both sides covered.
"""

import numpy as np

from spinenet_tf.backbones.model_garden_twin import (
    build_model_garden_backbone,
    copy_layer_pairs,
    require_model_garden,
    transfer_model_garden_weights,
)
from spinenet_tf.compat.model_garden_internals import (
    detection_head_layers,
    mask_head_layers,
    rpn_head_layers,
)


def build_model_garden_two_stage_detector(model):
    """The tf-models-official twin of a `TwoStageDetector` (`MaskRCNN`,
    `CascadeRCNN`): Model Garden's factory (`build_maskrcnn`) with an
    identity decoder and the same backbone, anchors, heads, cascade stages,
    proposal, sampling and detection settings."""
    # One function: most of it is one config literal, read best whole.
    require_model_garden()
    import tf_keras
    from official.vision.configs import common, decoders
    from official.vision.configs import maskrcnn as maskrcnn_cfg
    from official.vision.modeling import factory

    config = model.get_config()
    if not config["rpn_norm_each_conv"] and config["rpn_num_convs"] > 1:
        raise ValueError(
            "Model Garden's RPN head has a batch norm after every conv; this model's "
            f"{config['rpn_num_convs']}-conv RPN tower has one after the last "
            "(rpn_norm_each_conv=False, the 2020 TPU model-zoo layout), so it has no "
            "Model Garden twin.")
    backbone = build_model_garden_backbone(model.backbone)
    height, width, channels = model.backbone.image_shape
    train, test = config["train_proposals"], config["test_proposals"]
    sampling = config["sampling"]
    norm = model.backbone.norm_activation
    model_config = maskrcnn_cfg.MaskRCNN(
        num_classes=model.num_classes, input_size=[height, width, channels],
        min_level=model.min_level, max_level=model.max_level, include_mask=True,
        anchor=maskrcnn_cfg.Anchor(num_scales=config["num_scales"],
                                   aspect_ratios=list(config["aspect_ratios"]),
                                   anchor_size=config["anchor_size"]),
        decoder=decoders.Decoder(type="identity"),
        rpn_head=maskrcnn_cfg.RPNHead(num_convs=config["rpn_num_convs"],
                                      num_filters=config["rpn_num_filters"],
                                      use_separable_conv=config["use_separable_conv"]),
        detection_head=maskrcnn_cfg.DetectionHead(
            num_convs=config["box_num_convs"], num_filters=config["box_num_filters"],
            use_separable_conv=config["use_separable_conv"], num_fcs=config["box_num_fcs"],
            fc_dims=config["box_fc_dims"],
            class_agnostic_bbox_pred=config["class_agnostic_boxes"],
            cascade_class_ensemble=config["class_ensemble"]),
        mask_head=maskrcnn_cfg.MaskHead(num_convs=config["mask_num_convs"],
                                        num_filters=config["mask_num_filters"],
                                        use_separable_conv=config["use_separable_conv"]),
        roi_generator=maskrcnn_cfg.ROIGenerator(
            **train, **{"test_" + name: value for name, value in test.items()}),
        roi_sampler=maskrcnn_cfg.ROISampler(
            mix_gt_boxes=sampling["mix_gt_boxes"],
            num_sampled_rois=sampling["roi_samples_per_image"],
            foreground_fraction=sampling["roi_foreground_fraction"],
            foreground_iou_threshold=sampling["roi_foreground_iou_threshold"],
            background_iou_high_threshold=sampling["roi_background_iou_high_threshold"],
            background_iou_low_threshold=sampling["roi_background_iou_low_threshold"],
            cascade_iou_thresholds=list(config["cascade_iou_thresholds"]) or None),
        mask_sampler=maskrcnn_cfg.MaskSampler(
            num_sampled_masks=sampling["mask_samples_per_image"]),
        roi_aligner=maskrcnn_cfg.ROIAligner(crop_size=config["roi_crop_size"]),
        mask_roi_aligner=maskrcnn_cfg.MaskROIAligner(crop_size=config["mask_crop_size"]),
        detection_generator=maskrcnn_cfg.DetectionGenerator(
            pre_nms_top_k=config["pre_nms_top_k"],
            pre_nms_score_threshold=config["pre_nms_score_threshold"],
            nms_iou_threshold=config["nms_iou_threshold"],
            max_num_detections=config["max_detections"]),
        norm_activation=common.NormActivation(
            activation=config["activation"], use_sync_bn=norm.use_sync_bn,
            norm_momentum=norm.norm_momentum, norm_epsilon=norm.norm_epsilon))
    input_specs = tf_keras.layers.InputSpec(shape=[None, height, width, channels])
    reference = factory.build_maskrcnn(input_specs, model_config, backbone=backbone)
    # A subclassed tf_keras model has its weights once it has been called.
    reference(np.zeros((1, height, width, channels), "float32"),
              np.array([[height, width]], "float32"), training=False)
    return reference


def transfer_model_garden_two_stage_weights(reference, model):
    """Copies a Model Garden `MaskRCNNModel` (backbone, the RPN, every box
    stage's head and the mask head) into `model`."""
    transfer_model_garden_weights(reference.backbone, model.backbone)
    transfer_model_garden_rpn_head(reference.rpn_head, model.rpn_head)
    heads = reference.detection_head
    heads = heads if isinstance(heads, list) else [heads]
    if len(heads) != len(model.box_heads):
        raise ValueError(f"Model Garden's model has {len(heads)} box stages, ours "
                         f"{len(model.box_heads)}.")
    for theirs, ours in zip(heads, model.box_heads):
        transfer_model_garden_box_head(theirs, ours)
    transfer_model_garden_mask_head(reference.mask_head, model.mask_head)
    return model


def transfer_model_garden_rpn_head(theirs, ours):
    """Model Garden `RPNHead` -> `spinenet_tf.rcnn.RPNHead`."""
    layers = rpn_head_layers(theirs)
    pairs = list(zip(layers["convs"], ours.convs))
    if len(layers["norms"]) != len(ours.levels):
        raise ValueError(f"Model Garden's RPN head has {len(layers['norms'])} levels, "
                         f"ours {len(ours.levels)} ({ours.levels}).")
    for their_level, level in zip(layers["norms"], ours.levels):
        pairs += list(zip(their_level, ours.norms[level]))
    pairs += [(layers["score_predictor"], ours.score_predictor),
              (layers["box_predictor"], ours.box_predictor)]
    copy_layer_pairs(pairs, theirs, ours, "rpn_head")
    return ours


def transfer_model_garden_box_head(theirs, ours):
    """Model Garden `DetectionHead` -> `spinenet_tf.rcnn.BoxHead`."""
    layers = detection_head_layers(theirs)
    pairs = (list(zip(layers["convs"], ours.convs))
             + list(zip(layers["conv_norms"], ours.conv_norms))
             + list(zip(layers["fcs"], ours.fcs)) + list(zip(layers["fc_norms"], ours.fc_norms))
             + [(layers["class_predictor"], ours.class_predictor),
                (layers["box_predictor"], ours.box_predictor)])
    copy_layer_pairs(pairs, theirs, ours, ours.name)
    return ours


def transfer_model_garden_mask_head(theirs, ours):
    """Model Garden `MaskHead` -> `spinenet_tf.rcnn.MaskHead`."""
    layers = mask_head_layers(theirs)
    pairs = (list(zip(layers["convs"], ours.convs))
             + list(zip(layers["conv_norms"], ours.conv_norms))
             + [(layers["upsample"], ours.upsample), (layers["upsample_norm"], ours.upsample_norm),
                (layers["mask_predictor"], ours.mask_predictor)])
    copy_layer_pairs(pairs, theirs, ours, "mask_head")
    return ours
