"""How Mask R-CNN draws its training examples (anchors, ROIs, masks)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class SamplingSettings:
    """The reference's training-target settings (`maskrcnn_spinenet_coco`).

    rpn_match_threshold, rpn_unmatched_threshold: anchor IoU bounds.
    rpn_samples_per_image, rpn_positive_fraction: anchors drawn per image.
    roi_samples_per_image, roi_foreground_fraction: ROIs drawn per image.
    roi_foreground_iou_threshold, roi_background_iou_high_threshold,
        roi_background_iou_low_threshold: ROI IoU bounds.
    mix_gt_boxes: whether the ground-truth boxes join the proposals.
    mask_samples_per_image: foreground ROIs with a mask target.
    seed: of the random draws (None: unseeded).
    """

    rpn_match_threshold: float = 0.7
    rpn_unmatched_threshold: float = 0.3
    rpn_samples_per_image: int = 256
    rpn_positive_fraction: float = 0.5
    roi_samples_per_image: int = 512
    roi_foreground_fraction: float = 0.25
    roi_foreground_iou_threshold: float = 0.5
    roi_background_iou_high_threshold: float = 0.5
    roi_background_iou_low_threshold: float = 0.0
    mix_gt_boxes: bool = True
    mask_samples_per_image: int = 128
    seed: int = None

    @classmethod
    def of(cls, value):
        """`value` as settings: None (the defaults), a dict or settings."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = sorted(set(value) - {f.name for f in dataclasses.fields(cls)})
            if unknown:
                raise ValueError(f"Unknown sampling settings {unknown}; known: "
                                 f"{[f.name for f in dataclasses.fields(cls)]}.")
            return cls(**value)
        raise TypeError(f"Expected SamplingSettings, a dict or None; received {value!r}.")
