"""RetinaNet's training loss: sigmoid focal loss plus Huber box loss."""

import keras
from keras import ops


class RetinaNetLoss:
    """Focal classification loss and Huber box loss, as the reference sums them.

    Both terms are sums over anchors normalised by (number of positive
    anchors in the batch + 1); total = class_loss + box_loss_weight *
    box_loss. The focal term is Keras' `binary_focal_crossentropy` (with
    class balancing, from logits), which equals tf-models-official's
    `FocalLoss` elementwise; the box term is Keras' `huber`, averaged over
    the four coordinates as tf_keras' `Huber` is in the reference.

    Args:
        num_classes: width of the class logits (background slot included).
        focal_alpha, focal_gamma: focal loss parameters (0.25, 1.5).
        huber_delta: Huber loss delta (0.1).
        box_loss_weight: weight of the box term (50).
    """

    def __init__(self, num_classes, focal_alpha=0.25, focal_gamma=1.5,
                 huber_delta=0.1, box_loss_weight=50.0):
        self.num_classes = int(num_classes)
        self.focal_alpha = float(focal_alpha)
        self.focal_gamma = float(focal_gamma)
        self.huber_delta = float(huber_delta)
        self.box_loss_weight = float(box_loss_weight)

    def __call__(self, class_logits, box_deltas, targets):
        """Losses of one batch.

        Args:
            class_logits: [B, N, num_classes] flattened logits.
            box_deltas: [B, N, 4] flattened box codes.
            targets: the dict returned by `AnchorLabeler`.

        Returns:
            dict of scalar `class_loss`, `box_loss` and `total_loss`.
        """
        class_logits = ops.cast(class_logits, "float32")
        box_deltas = ops.cast(box_deltas, "float32")
        normalizer = ops.sum(targets["box_weights"]) + 1.0
        one_hot = ops.cast(
            ops.expand_dims(targets["class_targets"], -1)
            == ops.arange(self.num_classes, dtype="int32"), "float32")
        # A trailing axis of 1 makes Keras' mean over `axis` elementwise.
        focal = keras.losses.binary_focal_crossentropy(
            ops.expand_dims(one_hot, -1), ops.expand_dims(class_logits, -1),
            apply_class_balancing=True, alpha=self.focal_alpha,
            gamma=self.focal_gamma, from_logits=True, axis=-1)
        class_loss = ops.sum(
            ops.sum(focal, axis=-1) * targets["class_weights"]) / normalizer
        huber = keras.losses.huber(
            targets["box_targets"], box_deltas, delta=self.huber_delta)
        box_loss = ops.sum(huber * targets["box_weights"]) / normalizer
        return {
            "class_loss": class_loss,
            "box_loss": box_loss,
            "total_loss": class_loss + self.box_loss_weight * box_loss,
        }
