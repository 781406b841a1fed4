"""How a two-stage detector draws its training examples (anchors, ROIs, masks)."""

import dataclasses
import typing


def _ranged(default, at_least, at_most=None):
    """A field with the range the config checks (`config.fields.check_value`)."""
    return dataclasses.field(default=default,
                             metadata={"at_least": at_least, "at_most": at_most})


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

    rpn_match_threshold: float = _ranged(0.7, 0.0, 1.0)
    rpn_unmatched_threshold: float = _ranged(0.3, 0.0, 1.0)
    rpn_samples_per_image: int = _ranged(256, 1)
    rpn_positive_fraction: float = _ranged(0.5, 0.0, 1.0)
    roi_samples_per_image: int = _ranged(512, 1)
    roi_foreground_fraction: float = _ranged(0.25, 0.0, 1.0)
    roi_foreground_iou_threshold: float = _ranged(0.5, 0.0, 1.0)
    roi_background_iou_high_threshold: float = _ranged(0.5, 0.0, 1.0)
    roi_background_iou_low_threshold: float = _ranged(0.0, 0.0, 1.0)
    mix_gt_boxes: bool = True
    mask_samples_per_image: int = _ranged(128, 1)
    seed: typing.Optional[int] = None

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
