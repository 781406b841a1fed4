"""Writes the model-zoo test data by running tensorflow/tpu's own code.

The TPU model zoo's SpineNet checkpoints were written by the TF1 code of
tensorflow/tpu (`models/official/detection`). This script runs that code's
architecture functions in a TF1 graph (`tf.compat.v1`, with the legacy
Keras of the `tf_keras` package behind `tf.compat.v1.layers`) and writes,
under `--output_dir`:

* for scaled-down configurations (`SMALL_MODELS`): `<name>/model.ckpt.*`,
  a checkpoint with random, non-trivial weights and batch-norm statistics
  (and Momentum slots and the global step, as a training run leaves), and
  `<name>/outputs.npz`, the original code's outputs on a fixed input at a
  non-square, even size, where the padding conventions differ;
  `<name>/settings.json` records the settings given to the TPU code;
* for every full-size catalog entry: `manifests/<entry>.txt`, the
  variable names and shapes the original code creates (no weights), as
  gzipped text.

Mask R-CNN runs through the TPU code's own `MaskrcnnModel._build_outputs`
(inference mode): backbone, RPN head, proposals, ROI align, box head,
detections, mask head; the fixture keeps every stage's output. The
SpineNet-190 Mask R-CNN file was written before tensorflow/tpu@40cf4c3
(February 2021) renamed and re-laid the RPN tower (tensorflow/tpu#913);
settings with `"rpn_code": "2020"` run the RPN head of that commit's parent,
read from the checkout's git history.

Usage (the checkout from `git clone https://github.com/tensorflow/tpu`):

    TF_USE_LEGACY_KERAS=1 python tools/make_model_zoo_fixtures.py \
        --tpu_dir ../tpu --output_dir tests/pretrained/model_zoo

Needs `pip install tf_keras` (a dependency of the `garden` extra). The
tests read the files; they never run this script.
"""

import argparse
import gzip
import importlib.util
import json
import os
import subprocess
import sys
import types

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported

import numpy as np  # noqa: E402

SMALL_MODELS = {
    # SpineNet-49's block specs at a tenth of the width, relu.
    # With the TPU code's detections on a 112 x 200 content (clipped boxes).
    "retinanet_spinenet_relu": dict(
        family="retinanet", activation="relu", image_size=(128, 256),
        content_size=(112, 200),
        spinenet=dict(endpoints_num_filters=16, filter_size_scale=0.1,
                      resample_alpha=0.5, block_repeats=1),
        head=dict(num_classes=3, num_convs=2, num_filters=16),
        anchors=dict(num_scales=3, aspect_ratios=[1.0, 2.0, 0.5], anchor_size=3.0),
        detections=dict(pre_nms_top_k=5000, score_threshold=0.05,
                        nms_iou_threshold=0.5, max_detections=30),
        batch_norm=dict(momentum=0.997, epsilon=1e-4)),
    # The 143 / 190 shape (alpha 1, repeated blocks), swish.
    "retinanet_spinenet_swish": dict(
        family="retinanet", activation="swish", image_size=(256, 128),
        spinenet=dict(endpoints_num_filters=12, filter_size_scale=0.08,
                      resample_alpha=1.0, block_repeats=2),
        head=dict(num_classes=4, num_convs=1, num_filters=12),
        anchors=dict(num_scales=2, aspect_ratios=[1.0, 2.0, 0.5]),
        batch_norm=dict(momentum=0.997, epsilon=1e-4)),
    # The ImageNet classifiers' head: every level aggregated.
    "classifier_spinenet_swish": dict(
        family="classifier", activation="swish", image_size=(128, 256),
        spinenet=dict(endpoints_num_filters=16, filter_size_scale=0.1,
                      resample_alpha=0.5, block_repeats=1),
        head=dict(num_classes=5, aggregation="all"),
        batch_norm=dict(momentum=0.9, epsilon=1e-5)),
    # SpineNet-Mobile (MBConv blocks, squeeze-excitation) with the separable
    # head of its recipe.
    "retinanet_spinenet_mobile": dict(
        family="retinanet", backbone="spinenet_mbconv", activation="swish",
        image_size=(128, 256),
        spinenet=dict(endpoints_num_filters=16, filter_size_scale=0.25, block_repeats=1),
        head=dict(num_classes=3, num_convs=2, num_filters=16, use_separable_conv=True),
        anchors=dict(num_scales=3, aspect_ratios=[1.0, 2.0, 0.5]),
        batch_norm=dict(momentum=0.997, epsilon=1e-4)),
    # Mask R-CNN on SpineNet-49's specs at a tenth of the width: the
    # 49 / 96 / 143 recipe (one RPN conv) with smaller heads; the content
    # (112 x 200) smaller than the input, so proposals and boxes are clipped.
    "maskrcnn_spinenet_relu": dict(
        family="maskrcnn", activation="relu", image_size=(128, 256),
        content_size=(112, 200),
        spinenet=dict(endpoints_num_filters=16, filter_size_scale=0.1,
                      resample_alpha=0.5, block_repeats=1),
        head=dict(num_classes=5, rpn_num_convs=1, rpn_num_filters=16,
                  box_num_convs=2, box_num_filters=16, box_num_fcs=1, box_fc_dims=32,
                  mask_num_convs=2, mask_num_filters=16),
        anchors=dict(num_scales=1, aspect_ratios=[1.0, 2.0, 0.5], anchor_size=3.0),
        proposals=dict(pre_nms_top_k=1000, nms_iou_threshold=0.7, num_proposals=64),
        detections=dict(pre_nms_top_k=1000, score_threshold=0.05,
                        nms_iou_threshold=0.5, max_detections=20),
        batch_norm=dict(momentum=0.99, epsilon=1e-3)),
    # The SpineNet-190 file's shape: swish, alpha 1, repeated blocks, a
    # deeper RPN tower in the 2020 layout, two fully connected layers.
    "maskrcnn_spinenet_swish_rpn2020": dict(
        family="maskrcnn", activation="swish", image_size=(256, 128),
        content_size=(256, 128), rpn_code="2020",
        spinenet=dict(endpoints_num_filters=12, filter_size_scale=0.08,
                      resample_alpha=1.0, block_repeats=2),
        head=dict(num_classes=4, rpn_num_convs=3, rpn_num_filters=12,
                  box_num_convs=1, box_num_filters=12, box_num_fcs=2, box_fc_dims=24,
                  mask_num_convs=3, mask_num_filters=12),
        anchors=dict(num_scales=1, aspect_ratios=[1.0, 2.0, 0.5], anchor_size=5.0),
        proposals=dict(pre_nms_top_k=1000, nms_iou_threshold=0.7, num_proposals=64),
        detections=dict(pre_nms_top_k=1000, score_threshold=0.05,
                        nms_iou_threshold=0.5, max_detections=20),
        batch_norm=dict(momentum=0.99, epsilon=1e-3)),
}
MANIFEST_IMAGE_SIZE = (128, 128)  # variable shapes do not depend on it


def _import_tpu(tpu_dir):
    root = os.path.join(tpu_dir, "models", "official", "detection")
    if not os.path.isdir(os.path.join(root, "modeling", "architecture")):
        raise SystemExit(f"--tpu_dir {tpu_dir!r} is not a tensorflow/tpu checkout "
                         f"({root}/modeling/architecture is missing).")
    sys.path.insert(0, root)
    sys.path.insert(1, os.path.join(tpu_dir, "models"))  # its `hyperparameters`
    import tensorflow.compat.v1 as tf
    tf.disable_eager_execution()
    # The Mask R-CNN model's modules import two things this script never
    # calls: TF1's estimator (gone from TensorFlow 2.16; only the model's
    # TPUEstimator spec uses it) and tensorflow/tpu's EfficientNet (a
    # backbone choice). Empty modules stand in for them.
    tf.estimator = types.ModuleType("estimator")
    for name in ("official.efficientnet", "official.efficientnet.efficientnet_builder",
                 "official.efficientnet.efficientnet_model"):
        sys.modules[name] = types.ModuleType(name)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and parent != "official":
            setattr(sys.modules[parent], child, sys.modules[name])
    # The TPU code's detections call tf.image.non_max_suppression_padded,
    # which in the TensorFlow 1.15 it ran on was the NonMaxSuppressionV4
    # kernel (exact greedy NMS). TensorFlow 2 reimplemented it in Python and
    # canonicalises box corners by the first box alone; boxes clipped to
    # size - 1 (the TPU convention) can have xmax < xmin, and when the best
    # box of a class does, its whole NMS goes wrong. The kernel is restored.
    def non_max_suppression_padded(boxes, scores, max_output_size, iou_threshold=0.5,
                                   score_threshold=float("-inf"),
                                   pad_to_max_output_size=False, name=None, **_):
        return tf.raw_ops.NonMaxSuppressionV4(
            boxes=boxes, scores=scores, max_output_size=max_output_size,
            iou_threshold=iou_threshold, score_threshold=score_threshold,
            pad_to_max_output_size=pad_to_max_output_size, name=name)

    tf.image.non_max_suppression_padded = non_max_suppression_padded
    from modeling.architecture import heads, nn_ops, spinenet, spinenet_mbconv
    return tf, spinenet, heads, nn_ops, spinenet_mbconv


def _rpn_head_2020(tpu_dir):
    """`RpnHead` of tensorflow/tpu@40cf4c3^ (the layout the 2020 Mask R-CNN
    files were trained with), from the checkout's git history."""
    path = "models/official/detection/modeling/architecture/heads.py"
    try:
        source = subprocess.run(["git", "-C", tpu_dir, "show", f"40cf4c3^:{path}"],
                                check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"--tpu_dir {tpu_dir!r}: cannot read {path} at 40cf4c3^ "
                         f"from its git history ({error}); a full clone is needed.")
    spec = importlib.util.spec_from_loader("heads_2020", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"40cf4c3^:{path}", "exec"), module.__dict__)
    return module.RpnHead


def _backbone(tpu, settings):
    """The TPU code's backbone for `settings` and its batch norm."""
    tf, spinenet, heads, nn_ops, spinenet_mbconv = tpu
    norm = nn_ops.BatchNormActivation(activation=settings["activation"],
                                      **settings["batch_norm"])
    builder = (spinenet_mbconv.SpineNetMBConv
               if settings.get("backbone") == "spinenet_mbconv" else spinenet.SpineNet)
    return builder(activation=settings["activation"], batch_norm_activation=norm,
                   **settings["spinenet"]), norm


def _build_maskrcnn(tpu, settings, images, tpu_dir):
    """The TPU Mask R-CNN's inference outputs: backbone features, RPN
    outputs, proposals, box-head outputs, detections and masks."""
    from dataloader import mode_keys
    from modeling import maskrcnn_model

    from configs import factory as config_factory

    head, anchors = settings["head"], settings["anchors"]
    proposals, detections = settings["proposals"], settings["detections"]
    params = config_factory.config_generator("mask_rcnn")
    params.override({
        "architecture": {"backbone": "spinenet", "min_level": 3, "max_level": 7,
                         "multilevel_features": "identity",
                         "num_classes": head["num_classes"]},
        "anchor": anchors,
        "batch_norm_activation": {"batch_norm_momentum": settings["batch_norm"]["momentum"],
                                  "batch_norm_epsilon": settings["batch_norm"]["epsilon"],
                                  "activation": settings["activation"]},
        "rpn_head": {"num_convs": head["rpn_num_convs"], "use_batch_norm": True,
                     "num_filters": head["rpn_num_filters"]},
        "frcnn_head": {"num_convs": head["box_num_convs"], "use_batch_norm": True,
                       "num_filters": head["box_num_filters"],
                       "num_fcs": head["box_num_fcs"], "fc_dims": head["box_fc_dims"]},
        "mrcnn_head": {"num_convs": head["mask_num_convs"], "use_batch_norm": True,
                       "num_filters": head["mask_num_filters"]},
        "roi_proposal": {"test_rpn_pre_nms_top_k": proposals["pre_nms_top_k"],
                         "test_rpn_nms_threshold": proposals["nms_iou_threshold"],
                         "test_rpn_post_nms_top_k": proposals["num_proposals"]},
        "postprocess": {"pre_nms_num_boxes": detections["pre_nms_top_k"],
                        "score_threshold": detections["score_threshold"],
                        "nms_iou_threshold": detections["nms_iou_threshold"],
                        "max_total_size": detections["max_detections"]},
    }, is_strict=True)
    tf = tpu[0]
    model = maskrcnn_model.MaskrcnnModel(params)
    backbone, norm = _backbone(tpu, settings)
    outputs = {}

    def backbone_fn(inputs, is_training):
        features = backbone(inputs, is_training=is_training)
        outputs.update({f"P{level}": x for level, x in features.items()})
        return features

    model._backbone_fn = backbone_fn
    if settings.get("rpn_code") == "2020":
        model._rpn_head_fn = _rpn_head_2020(tpu_dir)(
            3, 7, len(anchors["aspect_ratios"]) * anchors["num_scales"],
            head["rpn_num_convs"], head["rpn_num_filters"], False, settings["activation"],
            True, batch_norm_activation=norm)
    generate_rois = model._generate_rois_fn

    def generate_rois_fn(*args, **kwargs):
        rois, scores = generate_rois(*args, **kwargs)
        outputs.update(rois=rois, roi_scores=scores)
        return rois, scores

    model._generate_rois_fn = generate_rois_fn
    height, width = images.shape.as_list()[1:3]
    content = settings.get("content_size", (height, width))
    image_info = tf.constant([[[height, width], content, [1.0, 1.0], [0.0, 0.0]]],
                             tf.float32)
    built = model._build_outputs(images, {"image_info": image_info}, mode_keys.PREDICT)
    for key, value in built.items():
        if isinstance(value, dict):  # rpn_score_outputs / rpn_box_outputs
            prefix = "rpn_scores" if "score" in key else "rpn_boxes"
            outputs.update({f"{prefix}_P{level}": x for level, x in value.items()})
        else:
            outputs[key] = value
    return outputs


def _build(tpu, settings, images, tpu_dir=None):
    """The TPU code's outputs for `settings` ({name: tensor})."""
    tf, spinenet, heads, nn_ops, spinenet_mbconv = tpu
    if settings["family"] == "maskrcnn":
        return _build_maskrcnn(tpu, settings, images, tpu_dir)
    backbone, norm = _backbone(tpu, settings)
    features = backbone(images, is_training=False)
    if settings["family"] == "classifier":
        head = heads.ClassificationHead(batch_norm_activation=norm, **settings["head"])
        outputs = {f"P{level}": x for level, x in features.items()}
        outputs["logits"] = head(features, is_training=False)
        return outputs
    anchors = settings["anchors"]
    head = heads.RetinanetHead(
        3, 7, anchors_per_location=anchors["num_scales"] * len(anchors["aspect_ratios"]),
        activation=settings["activation"], batch_norm_activation=norm,
        **settings["head"])
    class_outputs, box_outputs = head(features, is_training=False)
    outputs = {f"P{level}": x for level, x in features.items()}
    outputs.update({f"class_P{level}": x for level, x in class_outputs.items()})
    outputs.update({f"box_P{level}": x for level, x in box_outputs.items()})
    if "detections" in settings:
        outputs.update(_retinanet_detections(tpu, settings, images, class_outputs,
                                             box_outputs))
    return outputs


def _retinanet_detections(tpu, settings, images, class_outputs, box_outputs):
    """The TPU RetinaNet's inference post-processing (`retinanet_model.py`):
    its anchors and `MultilevelDetectionGenerator`."""
    from dataloader import anchor
    from ops import postprocess_ops

    from configs import detection_config

    tf = tpu[0]
    anchors, detections = settings["anchors"], settings["detections"]
    params = detection_config.DETECTION_CFG.postprocess
    params.override({"pre_nms_num_boxes": detections["pre_nms_top_k"],
                     "score_threshold": detections["score_threshold"],
                     "nms_iou_threshold": detections["nms_iou_threshold"],
                     "max_total_size": detections["max_detections"]}, is_strict=True)
    height, width = images.shape.as_list()[1:3]
    anchor_boxes = anchor.Anchor(3, 7, anchors["num_scales"], anchors["aspect_ratios"],
                                 anchors["anchor_size"], (height, width)).multilevel_boxes
    anchor_boxes = {level: tf.expand_dims(boxes, 0) for level, boxes in anchor_boxes.items()}
    image_shape = tf.constant([[settings.get("content_size", (height, width))]], tf.float32)
    generator = postprocess_ops.MultilevelDetectionGenerator(3, 7, params)
    return generator(box_outputs, class_outputs, anchor_boxes, image_shape)


def _randomise(tf, session, rng):
    """Non-trivial values for every variable the default initialisers make
    trivial: batch-norm statistics and affine parameters, biases."""
    for variable in tf.global_variables():
        name = variable.op.name
        shape = variable.shape.as_list()
        if name.endswith(("gamma", "moving_variance")):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(("beta", "moving_mean", "bias")):
            value = rng.normal(0.0, 0.2, shape)
        elif name.startswith(("rpn_head/rpn-", "fast_rcnn_head/")) and name.endswith(
                ("class/kernel", "box/kernel", "predict/kernel")):
            # Spread scores (over ROIs and classes): near-equal ones would
            # tie in the proposals' and the detections' order.
            value = rng.normal(0.0, 0.5, shape)
        elif name.endswith(("predict/kernel", "dense/kernel")):
            # N(0, 1e-5) / N(0, 0.01) would leave the outputs at their bias.
            value = rng.normal(0.0, 0.05, shape)
        else:
            continue
        variable.load(value.astype(np.float32), session)


def write_small_model(tpu, name, settings, output_dir, seed, tpu_dir):
    tf = tpu[0]
    folder = os.path.join(output_dir, name)
    os.makedirs(folder, exist_ok=True)
    height, width = settings["image_size"]
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, 1.0, (1, height, width, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        images = tf.placeholder(tf.float32, image.shape, name="images")
        outputs = _build(tpu, settings, images, tpu_dir)
        loss = tf.add_n([tf.reduce_mean(tf.cast(x, tf.float32)) for x in outputs.values()
                         if x.dtype.is_floating])
        # A training run's leftovers (a slot per variable in the real files;
        # on a few here, to keep the files small).
        tf.train.MomentumOptimizer(0.01, 0.9).minimize(
            loss, global_step=tf.train.get_or_create_global_step(),
            var_list=tf.trainable_variables()[:4])
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            _randomise(tf, session, rng)
            values = session.run(outputs, {images: image})
            tf.train.Saver().save(session, os.path.join(folder, "model.ckpt"),
                                  write_meta_graph=False, write_state=False)
    np.savez_compressed(os.path.join(folder, "outputs.npz"), image=image, **values)
    with open(os.path.join(folder, "settings.json"), "w") as f:
        json.dump(settings, f, indent=1)
    print(f"wrote {folder}: {len(values)} outputs")


def _load_presets():
    """The TPU model zoo's loadable presets, as `spinenet-pretrained list
    --json` prints them, in a separate process: importing the package here
    would bring in Keras 3 beside the legacy Keras the TPU code runs on."""
    import subprocess
    import types

    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run([sys.executable, "-m", "spinenet_tf.cli.pretrained", "list",
                             "--json"], capture_output=True, text=True, env=env, check=True)
    return [types.SimpleNamespace(**{**record, "model": types.SimpleNamespace(
        **record["model"])}) for record in json.loads(result.stdout)
        if record["source"] == "tpu-model-zoo" and record["loadable"]]


def entry_settings(tpu, entry):
    """The TPU code's settings for a full-size preset (`_load_presets`)."""
    model = entry.model
    mobile = model.backbone.startswith("spinenet-mobile")
    module = tpu[4] if mobile else tpu[1]
    model_id = model.backbone.split("-")[-1].upper()
    scaling = dict(module.SCALING_MAP[model_id])
    if model.endpoints_num_filters is not None:
        scaling["endpoints_num_filters"] = model.endpoints_num_filters
    settings = dict(family=entry.family, activation=model.activation,
                    backbone="spinenet_mbconv" if mobile else "spinenet",
                    image_size=MANIFEST_IMAGE_SIZE, spinenet=scaling,
                    batch_norm=dict(momentum=model.norm_momentum,
                                    epsilon=model.norm_epsilon))
    if entry.family == "classifier":
        settings["head"] = dict(num_classes=model.num_classes, aggregation=model.aggregation)
    elif entry.family == "maskrcnn":
        settings["head"] = dict(num_classes=model.num_classes,
                                rpn_num_convs=model.rpn_num_convs,
                                rpn_num_filters=model.rpn_num_filters,
                                box_num_convs=model.box_num_convs,
                                box_num_filters=model.box_num_filters,
                                box_num_fcs=model.box_num_fcs, box_fc_dims=model.box_fc_dims,
                                mask_num_convs=model.mask_num_convs,
                                mask_num_filters=model.mask_num_filters)
        settings["anchors"] = dict(num_scales=1, aspect_ratios=[1.0, 2.0, 0.5],
                                   anchor_size=model.anchor_size)
        settings["proposals"] = dict(pre_nms_top_k=1000, nms_iou_threshold=0.7,
                                     num_proposals=1000)
        settings["detections"] = dict(pre_nms_top_k=1000, score_threshold=0.05,
                                      nms_iou_threshold=0.5, max_detections=100)
        if not model.rpn_norm_each_conv:
            settings["rpn_code"] = "2020"
    else:
        settings["head"] = dict(num_classes=model.num_classes,
                                num_convs=model.head_num_convs or 4,
                                num_filters=model.head_num_filters or 256,
                                use_separable_conv=mobile)
        settings["anchors"] = dict(num_scales=3, aspect_ratios=[1.0, 2.0, 0.5])
    return settings


def write_manifest(tpu, entry, folder, tpu_dir):
    """`<entry>.txt.gz`: 'name shape' of every variable the TPU code creates."""
    tf = tpu[0]
    settings = entry_settings(tpu, entry)
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, (1, *settings["image_size"], 3))
        _build(tpu, settings, images, tpu_dir)
        lines = [f"{v.op.name} {','.join(str(d) for d in v.shape.as_list())}"
                 for v in tf.global_variables()]
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{entry.name}.txt.gz")
    with gzip.GzipFile(path, "wb", mtime=0) as f:  # the same bytes every run
        f.write(("\n".join(lines) + "\n").encode())
    print(f"wrote {path}: {len(lines)} variables")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tpu_dir", required=True,
                        help="a checkout of github.com/tensorflow/tpu")
    parser.add_argument("--tpu_git_dir",
                        help="its git directory, for the 2020 RPN head (default: --tpu_dir)")
    parser.add_argument("--output_dir", default="tests/pretrained/model_zoo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="*", choices=sorted(SMALL_MODELS),
                        help="write only these scaled-down models (no manifests)")
    parser.add_argument("--manifests_only", action="store_true",
                        help="write only the full-size manifests")
    args = parser.parse_args(argv)
    tpu = _import_tpu(args.tpu_dir)
    git_dir = args.tpu_git_dir or args.tpu_dir
    for index, (name, settings) in enumerate(SMALL_MODELS.items()):
        if args.manifests_only:
            break
        if args.only is None or name in args.only:  # the seed stays the model's
            write_small_model(tpu, name, settings, args.output_dir, args.seed + index,
                              git_dir)
    if args.only is not None:
        return
    for entry in _load_presets():
        write_manifest(tpu, entry, os.path.join(args.output_dir, "manifests"), git_dir)


if __name__ == "__main__":
    main()
