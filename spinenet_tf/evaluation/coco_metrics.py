"""COCO box and mask AP of detections with pycocotools."""

import contextlib
import io

METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                "ARmax1", "ARmax10", "ARmax100", "ARs", "ARm", "ARl")


def coco_metrics(detections, image_ids, categories, annotation_file=None,
                 ground_truth=None, iou_type="bbox"):
    """AP, AP50, AP75, APs, APm, APl (and ARs) as a dict of floats.

    The ground truth is `annotation_file` when given (the exact COCO
    annotations), else `ground_truth` annotations. `iou_type` "segm" scores
    the detections' `segmentation` masks instead of their boxes.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        if annotation_file:
            gt = COCO(annotation_file)
        else:
            gt = COCO()
            gt.dataset = {"images": [{"id": i} for i in image_ids],
                          "annotations": ground_truth, "categories": categories}
            gt.createIndex()
        if not detections:
            return {name: 0.0 for name in METRIC_NAMES}
        dt = gt.loadRes(detections)
        evaluation = COCOeval(gt, dt, iou_type)
        evaluation.params.imgIds = sorted(image_ids)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {name: float(max(value, 0.0))
            for name, value in zip(METRIC_NAMES, evaluation.stats)}
