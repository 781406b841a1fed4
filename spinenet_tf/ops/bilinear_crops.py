"""Bilinear crops of boxes from maps stored as one flat table: the
sampling that ROI align and the mask targets share (tf-models-official's
`_selective_crop_and_resize`, one point per bin)."""

from keras import ops


def bilinear_crops(table, base, row_stride, boxes, last_row, last_column, crop_size,
                   sample_offset):
    """`crop_size` x `crop_size` bilinear samples of each box.

    Each box lies on one map of `table`: the map's pixel (y, x) is row
    `base + y * row_stride + x`. The box is divided into bins; each bin's
    value is sampled at one point, `sample_offset` of the way into the bin,
    with grid points clamped to the map's last row and column as the
    reference clamps them.

    Args:
        table: [T, C] all maps' pixels.
        base, row_stride: [B, N] int32: where each box's map starts, its width.
        boxes: [B, N, 4] (top, left, height, width) in the map's pixels.
        last_row, last_column: [B, N] float: the map's last pixel index.
        crop_size: bins per side.
        sample_offset: in [0, 1].

    Returns:
        [B, N, crop_size, crop_size, C].
    """
    batch, num_boxes = ops.shape(boxes)[0], ops.shape(boxes)[1]
    top, left, height, width = ops.unstack(ops.cast(boxes, "float32"), 4, axis=-1)
    steps = ops.arange(crop_size, dtype="float32") + sample_offset
    y = top[..., None] + steps * height[..., None] / crop_size  # [B, N, S]
    x = left[..., None] + steps * width[..., None] / crop_size
    last_row, last_column = last_row[..., None], last_column[..., None]
    y0 = ops.minimum(ops.maximum(ops.floor(y), 0.0), last_row)
    x0 = ops.minimum(ops.maximum(ops.floor(x), 0.0), last_column)
    y1 = ops.minimum(y0 + 1.0, last_row)
    x1 = ops.minimum(x0 + 1.0, last_column)
    low_y, low_x = y - y0, x - x0  # the weights of y1 and x1
    high_y, high_x = 1.0 - low_y, 1.0 - low_x

    def gather(rows, columns):
        index = (base[..., None, None]
                 + ops.cast(rows, "int32")[..., :, None] * row_stride[..., None, None]
                 + ops.cast(columns, "int32")[..., None, :])  # [B, N, S, S]
        return ops.take(table, ops.reshape(index, (-1,)), axis=0)

    def weight(wy, wx):
        return ops.cast(ops.reshape(wy[..., :, None] * wx[..., None, :], (-1, 1)), table.dtype)

    crops = (gather(y0, x0) * weight(high_y, high_x) + gather(y0, x1) * weight(high_y, low_x)
             + gather(y1, x0) * weight(low_y, high_x) + gather(y1, x1) * weight(low_y, low_x))
    return ops.reshape(crops, (batch, num_boxes, crop_size, crop_size, table.shape[-1]))
