"""The training losses of a two-stage detector (RPN, box head per stage,
mask head), normalised as the reference's."""

import keras
from keras import ops

from spinenet_tf.ops.distribution import replica_mean


def _elementwise(loss_fn, targets, predictions, **kwargs):
    """A Keras loss per element (a trailing axis of 1 makes its mean a no-op)."""
    return loss_fn(ops.expand_dims(targets, -1), ops.expand_dims(predictions, -1), **kwargs)


class RCNNLoss:
    """tf-models-official's Mask R-CNN and Cascade R-CNN losses
    (`maskrcnn_losses.py` and `MaskRCNNTask.build_losses`), with its
    normalisations:

    * `rpn_score_loss`: sigmoid cross-entropy over the sampled anchors
      (score target 0 or 1), summed, / (batch x `rpn_samples_per_image`);
    * `rpn_box_loss`: Huber (`rpn_huber_delta`) over the coordinates of
      anchors with a non-zero box target, summed per level and divided by
      that level's count of such coordinates + 0.01, then summed over levels;
    * `frcnn_class_loss`: softmax cross-entropy, the mean over sampled ROIs;
    * `frcnn_box_loss`: Huber (`frcnn_huber_delta`) of the box predicted for
      each foreground ROI's class, summed / (foreground coordinates + 0.01);
    * `mask_loss`: sigmoid cross-entropy of each foreground mask's pixels,
      summed / (foreground mask pixels + 0.01);

    and `total_loss`, their sum with the `weights`. Under `tf.distribute`
    the three count normalisers are averaged over the replicas, as the
    reference averages them (`ops.distribution.replica_mean`).

    Args:
        rpn_samples_per_image: the RPN labeler's draw per image (256).
        rpn_huber_delta, frcnn_huber_delta: (1/9, 1).
        class_agnostic_boxes: one box per ROI instead of one per class.
        weights: dict of the five terms' weights (default all 1).
    """

    TERMS = ("rpn_score_loss", "rpn_box_loss", "frcnn_class_loss", "frcnn_box_loss",
             "mask_loss")

    def __init__(self, rpn_samples_per_image=256, rpn_huber_delta=1.0 / 9.0,
                 frcnn_huber_delta=1.0, class_agnostic_boxes=False, weights=None):
        unknown = sorted(set(weights or {}) - set(self.TERMS))
        if unknown:
            raise ValueError(f"Unknown loss weights {unknown}; the terms are {self.TERMS}.")
        self.rpn_samples_per_image = int(rpn_samples_per_image)
        self.rpn_huber_delta = float(rpn_huber_delta)
        self.frcnn_huber_delta = float(frcnn_huber_delta)
        self.class_agnostic_boxes = bool(class_agnostic_boxes)
        self.weights = {term: float((weights or {}).get(term, 1.0)) for term in self.TERMS}

    def rpn_score_loss(self, score_logits, score_targets):
        """score_logits [B, N] (all levels), score_targets [B, N] in {1, 0, -1}."""
        sampled = ops.cast(score_targets >= 0, "float32")
        loss = _elementwise(keras.losses.binary_crossentropy,
                            ops.cast(ops.maximum(score_targets, 0), "float32"),
                            ops.cast(score_logits, "float32"), from_logits=True)
        batch = ops.cast(ops.shape(score_logits)[0], "float32")
        return ops.sum(loss * sampled) / (batch * self.rpn_samples_per_image)

    def rpn_box_loss(self, box_deltas, box_targets, level_sizes):
        """box_deltas, box_targets [B, N, 4] (all levels); level_sizes: the
        anchors of each level, in order."""
        box_targets = ops.cast(box_targets, "float32")
        huber = _elementwise(keras.losses.huber, box_targets,
                             ops.cast(box_deltas, "float32"), delta=self.rpn_huber_delta)
        valid = ops.cast(ops.any(ops.abs(box_targets) > 1e-6, axis=-1, keepdims=True),
                         "float32") * ops.ones_like(huber)
        total, start = 0.0, 0
        for size in level_sizes:
            level_loss = ops.sum(huber[:, start:start + size] * valid[:, start:start + size])
            count = replica_mean(ops.sum(valid[:, start:start + size]))
            total = total + level_loss / (count + 0.01)
            start += size
        return total

    def frcnn_class_loss(self, class_logits, class_targets):
        """class_logits [B, K, C], class_targets [B, K] (0: background)."""
        class_logits = ops.cast(class_logits, "float32")
        return ops.mean(keras.losses.categorical_crossentropy(
            ops.one_hot(class_targets, class_logits.shape[-1]), class_logits,
            from_logits=True))

    def frcnn_box_loss(self, box_deltas, class_targets, box_targets):
        """box_deltas [B, K, 4C] (or [B, K, 4] class-agnostic), box_targets [B, K, 4]."""
        box_deltas = ops.cast(box_deltas, "float32")
        if not self.class_agnostic_boxes:
            num_classes = box_deltas.shape[-1] // 4
            per_class = ops.reshape(box_deltas, (-1, box_deltas.shape[1], num_classes, 4))
            box_deltas = ops.einsum("bnij,bni->bnj", per_class,
                                    ops.one_hot(class_targets, num_classes))
        foreground = ops.cast(ops.expand_dims(class_targets > 0, -1), "float32") * ops.ones(4)
        huber = _elementwise(keras.losses.huber, ops.cast(box_targets, "float32"), box_deltas,
                             delta=self.frcnn_huber_delta)
        return ops.sum(huber * foreground) / (replica_mean(ops.sum(foreground)) + 0.01)

    def mask_loss(self, mask_logits, mask_targets, mask_classes):
        """mask_logits, mask_targets [B, K, S, S]; mask_classes [B, K] (0: no target)."""
        mask_logits = ops.cast(mask_logits, "float32")
        weights = (ops.cast(mask_classes > 0, "float32")[:, :, None, None]
                   * ops.ones_like(mask_logits))
        loss = _elementwise(keras.losses.binary_crossentropy,
                            ops.cast(mask_targets, "float32"), mask_logits, from_logits=True)
        return ops.sum(loss * weights) / (replica_mean(ops.sum(weights)) + 0.01)

    def __call__(self, outputs, level_sizes):
        """The five terms and `total_loss` of a two-stage detector's
        training outputs. With several box stages (`outputs["stages"]`, a
        cascade), the box head's two terms are the mean over the stages, as
        the reference averages them."""
        stages = outputs.get("stages") or [outputs]
        class_loss = sum(self.frcnn_class_loss(stage["class_logits"], stage["class_targets"])
                         for stage in stages) / len(stages)
        box_loss = sum(self.frcnn_box_loss(stage["box_deltas"], stage["class_targets"],
                                           stage["box_targets"])
                       for stage in stages) / len(stages)
        losses = {
            "rpn_score_loss": self.rpn_score_loss(outputs["rpn_score_logits"],
                                                  outputs["rpn_score_targets"]),
            "rpn_box_loss": self.rpn_box_loss(outputs["rpn_box_deltas"],
                                              outputs["rpn_box_targets"], level_sizes),
            "frcnn_class_loss": class_loss,
            "frcnn_box_loss": box_loss,
            "mask_loss": self.mask_loss(outputs["mask_logits"], outputs["mask_targets"],
                                        outputs["mask_classes"]),
        }
        losses["total_loss"] = sum(self.weights[term] * losses[term] for term in self.TERMS)
        return losses
