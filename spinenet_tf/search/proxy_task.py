"""The proxy task: a candidate trained briefly as a RetinaNet, scored by
COCO AP on held-out images."""

import contextlib
import dataclasses
import json
import os
import time

import keras
import tensorflow as tf

from spinenet_tf.config import config_from_dict, validate
from spinenet_tf.training.trainer import Trainer
from spinenet_tf.utils.model_complexity import count_macs


@dataclasses.dataclass
class ProxySettings:
    """Reduced-scale training of one candidate (defaults fit 2 CPU cores)."""

    image_size: int = 128
    filter_size_scale: float = 0.25
    endpoints_num_filters: int = 48
    head_num_filters: int = 48
    head_num_convs: int = 2
    train_steps: int = 300
    batch_size: int = 16
    learning_rate: float = 0.004


@dataclasses.dataclass
class ProxyData:
    """COCO-format train and held-out splits."""

    train_annotations: str
    train_images: str
    val_annotations: str
    val_images: str

    def facts(self):
        """(number of classes incl. background, most boxes in one image)."""
        with open(self.train_annotations) as f:
            coco = json.load(f)
        if not coco.get("categories"):
            raise ValueError(f"{self.train_annotations} lists no categories.")
        per_image = {}
        for annotation in coco.get("annotations", []):
            per_image[annotation["image_id"]] = per_image.get(annotation["image_id"], 0) + 1
        return (max(c["id"] for c in coco["categories"]) + 1,
                max(per_image.values(), default=1))


class ProxyTask:
    """Builds, measures and trains candidates of one `SearchSpace`."""

    def __init__(self, space, data, settings):
        if settings.image_size % 128:
            raise ValueError(f"--image_size must be a multiple of 128 (the L7 blocks "
                             f"halve it 7 times); received {settings.image_size}.")
        self.space, self.data, self.settings = space, data, settings
        self.num_classes, self.max_boxes = data.facts()

    def config(self, spec, seed):
        s, d = self.settings, self.data
        steps = s.train_steps
        every = next(k for k in range(min(100, steps), 0, -1) if steps % k == 0)
        values = {
            "model": {
                "type": "retinanet", "backbone": self.space.backbone,
                "image_size": [s.image_size, s.image_size],
                "num_classes": self.num_classes, "activation": "swish",
                "filter_size_scale": s.filter_size_scale,
                "endpoints_num_filters": s.endpoints_num_filters,
                "head_num_filters": s.head_num_filters, "head_num_convs": s.head_num_convs,
                "anchor_size": 2.0,
                "block_specs": [list(row[:2]) + [list(row[2]), row[3]] for row in spec],
            },
            "train_data": {"source": "coco", "annotations": d.train_annotations,
                           "image_dir": d.train_images, "batch_size": s.batch_size,
                           "max_boxes": self.max_boxes, "aug_scale_min": 0.8,
                           "aug_scale_max": 1.25},
            "eval_data": {"source": "coco", "annotations": d.val_annotations,
                          "image_dir": d.val_images, "batch_size": s.batch_size,
                          "max_boxes": self.max_boxes},
            "losses": {"l2_weight_decay": 3e-5},
            "optimizer": {
                "type": "adam", "boundaries": [int(0.75 * steps), int(0.9 * steps)],
                "values": [s.learning_rate, s.learning_rate / 10, s.learning_rate / 100],
                "warmup_steps": steps // 7, "warmup_learning_rate": s.learning_rate / 10,
                "global_clipnorm": 10.0},
            "trainer": {"train_steps": steps, "checkpoint_every": every, "eval_every": 0,
                        "seed": seed, "mixed_precision": "auto", "jit_compile": False},
        }
        config = config_from_dict(values, "proxy task")
        validate(config, "proxy task")
        return config

    def complexity(self, spec):
        """(GMACs, parameters) of the candidate backbone at the proxy scale."""
        keras.mixed_precision.set_global_policy("float32")
        backbone = self.config(spec, 0).model.build_backbone()
        result = count_macs(backbone) / 1e9, backbone.count_params()
        keras.backend.clear_session()
        return result

    def train(self, spec, folder, seed):
        """Trains the candidate in `folder` (resuming its checkpoints);
        returns its COCO metrics and the seconds it took. The trainer's
        output goes to `folder/train_output.txt`."""
        os.makedirs(folder, exist_ok=True)
        started = time.time()
        with open(os.path.join(folder, "train_output.txt"), "a") as log, \
                contextlib.redirect_stdout(log):
            trainer = Trainer(self.config(spec, seed), folder,
                              tf.distribute.OneDeviceStrategy("/cpu:0"), verbose=2)
            results = trainer.run()
        precision = trainer.precision or "float32"
        keras.backend.clear_session()
        keras.mixed_precision.set_global_policy("float32")
        metrics = {k: round(v, 4) for k, v in results.items()
                   if k in ("AP", "AP50", "AP75", "APs", "APm", "APl")}
        return metrics, round(time.time() - started, 1), precision
