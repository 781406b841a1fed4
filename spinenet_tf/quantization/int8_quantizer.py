"""int8 quantization with a per-layer error report and selective float.

`Int8Quantizer` calibrates a converter once with TensorFlow's public
`tf.lite.experimental.QuantizationDebugger`, measures each quantized op's
error on the calibration images, and quantizes the calibrated model with
any chosen ops kept in float (`QuantizationDebugOptions.denylisted_nodes`).
`quantize_within_budget` keeps the worst ops float, by the report, until a
measured accuracy cost is within a budget; then, if single ops are not
enough, the whole blocks the worst ops belong to.
"""

import csv
import functools
import io
import math
import re
import warnings

import numpy as np
import tensorflow as tf

from spinenet_tf.compat.tensorflow_internals import tflite_flatbuffer_utils

# The range (scale * 255) the converter gives a tensor that was constant
# during calibration: its minimum, 2e-6.
CONSTANT_RANGE = 2e-6
REPORT_FIELDS = ("rank", "op", "layer", "rmse_per_scale", "max_abs_error_per_scale",
                 "mean_error", "scale", "zero_point", "tensor_name")


def layer_name(tensor_name, outer_scopes=()):
    """A readable name for a TFLite tensor: the first of the fused names
    the converter joins with ';', without the outer scopes (the model's and
    its backbone's names, as "retinanet_x_1/spinenet_x_1/block/op" has them,
    and the SavedModel's call)."""
    name = tensor_name.split(";")[0]
    parts = [p for p in name.split("/") if p]
    scopes = {scope.lower() for scope in outer_scopes} | {"statefulpartitionedcall"}
    while len(parts) > 2 and (parts[0].lower() in scopes
                              or re.sub(r"_\d+$", "", parts[0].lower()) in scopes):
        parts = parts[1:]
    return "/".join(parts)


class Int8Quantizer:
    """A converter calibrated once, quantized on demand.

    Args:
        converter: a `tf.lite.TFLiteConverter` with `optimizations` and
            `representative_dataset` set for int8.
        report_dataset: a function returning an iterable of input lists to
            measure each op's error on (default: the representative dataset).
        outer_scopes: names left out of the report's layer names (the
            model's and its backbone's).
    """

    def __init__(self, converter, report_dataset=None, outer_scopes=()):
        self.outer_scopes = tuple(outer_scopes)
        self._quantized = {}  # float nodes -> flatbuffer
        with warnings.catch_warnings():
            # The debugger runs its debug model in tf.lite.Interpreter, which
            # warns that it is deprecated for LiteRT's.
            warnings.simplefilter("ignore", UserWarning)
            self.debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter,
                debug_dataset=report_dataset or converter.representative_dataset)
            # Before the debug model runs: on XNNPACK it fails where these do.
            self.constant_nodes = self._nodes_around_constant_tensors()
            if self.constant_nodes:
                self.debugger.options = tf.lite.experimental.QuantizationDebugOptions(
                    denylisted_nodes=self.constant_nodes)

    @functools.cached_property
    def report(self):
        """One row per quantized op output, worst first by RMSE / scale
        (the error in quantization steps); measured on first use (it runs
        the debug model), so a plain quantization does not pay for it."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.debugger.run()
        dump = io.StringIO()
        self.debugger.layer_statistics_dump(dump)
        rows = []
        for row in csv.DictReader(io.StringIO(dump.getvalue())):
            scale = float(row["scale"])
            rmse = math.sqrt(float(row["mean_squared_error"]))
            rows.append({
                "op": row["op_name"], "layer": layer_name(row["tensor_name"], self.outer_scopes),
                "rmse_per_scale": rmse / scale if scale > 0 else math.inf,
                "max_abs_error_per_scale": (float(row["max_abs_error"]) / scale
                                            if scale > 0 else math.inf),
                "mean_error": float(row["mean_error"]), "scale": scale,
                "zero_point": int(float(row["zero_point"])),
                "tensor_name": row["tensor_name"]})
        rows.sort(key=lambda r: -r["rmse_per_scale"])
        for rank, row in enumerate(rows, 1):
            row["rank"] = rank
        return rows

    def worst_layers(self, count):
        """Tensor names of the `count` worst ops (not counting those already
        kept float because their tensors were constant)."""
        names = [r["tensor_name"] for r in self.report
                 if r["tensor_name"] not in self.constant_nodes]
        return names[:count]

    def worst_blocks(self, count, max_ops=None):
        """(block names, tensor names of all their ops) of the `count` worst
        blocks, ranked by their worst op; a block that would take the ops
        past `max_ops` is passed over for the next. A block is the outermost
        layer an op belongs to (`block_of`)."""
        members = {}
        for row in self.report:
            if row["tensor_name"] not in self.constant_nodes:
                members.setdefault(block_of(row["layer"]), []).append(row["tensor_name"])
        blocks, names = [], []
        for block, tensors in members.items():  # in the order of their worst op
            if len(blocks) == count:
                break
            if max_ops is None or len(names) + len(tensors) <= max_ops:
                blocks.append(block)
                names.extend(tensors)
        return blocks, names

    def quantize(self, float_nodes=()):
        """The int8 flatbuffer with the ops writing `float_nodes` (tensor
        names, as in the report) and those around constant tensors in float.
        Each set of float ops is converted once."""
        nodes = tuple(sorted(set(float_nodes) | set(self.constant_nodes)))
        if nodes not in self._quantized:
            self._quantized[nodes] = self._quantize(list(nodes))
        return self._quantized[nodes]

    def _quantize(self, nodes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                self.debugger.options = tf.lite.experimental.QuantizationDebugOptions(
                    denylisted_nodes=nodes or None)
            except ValueError as error:
                # With every op float the debug model it also builds has
                # nothing to verify; the options are set all the same.
                if "debug mode" not in str(error):
                    raise
            return self.debugger.get_nondebug_quantized_model()

    def _nodes_around_constant_tensors(self):
        """Output names of the ops that write or read an int8 activation that
        was constant during calibration.

        Such tensors occur in trained SpineNet-Mobile models: a
        squeeze-excitation with one reduce channel whose ReLU is 0 on every
        calibration image. The converter gives them a range of 2e-6, and
        LiteRT's XNNPACK delegate cannot requantize across it: on such a
        file it fails, and in the full model aborts the process ("double
        free or corruption"). Keeping those few ops float avoids it.
        """
        flatbuffer_utils = tflite_flatbuffer_utils()
        model = flatbuffer_utils.read_model_from_bytearray(
            bytearray(self.debugger.get_nondebug_quantized_model()))
        graph = model.subgraphs[0]
        constant = set()
        for op in graph.operators:
            for index in op.outputs:
                quantization = graph.tensors[index].quantization
                scales = getattr(quantization, "scale", None)
                if (scales is not None and len(scales)
                        and np.max(scales) * 255 <= CONSTANT_RANGE * 1.001):
                    constant.add(index)
        return sorted({graph.tensors[index].name.decode() for op in graph.operators
                       if constant & (set(op.inputs) | set(op.outputs))
                       for index in op.outputs})


def block_of(layer):
    """The outermost layer of a report's layer name: "block12_mbconv1_1" for
    "block12_mbconv1_1/squeeze_excitation_1/inner_activation_1/Relu"."""
    return layer.split("/")[0]


def write_report(rows, path):
    """The full per-layer table as CSV."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, REPORT_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in REPORT_FIELDS})


def format_report(rows, count=10):
    """The `count` worst rows as a plain-text table."""
    width = min(max((len(r["layer"]) for r in rows[:count]), default=5), 70)
    lines = [f"  {'rank':>4}  {'op':<17} {'layer':<{width}}  rmse/scale  max/scale"]
    for row in rows[:count]:
        layer = row["layer"] if len(row["layer"]) <= width else "…" + row["layer"][-width + 1:]
        lines.append(f"  {row['rank']:>4}  {row['op']:<17} {layer:<{width}}  "
                     f"{row['rmse_per_scale']:>10.3f}  {row['max_abs_error_per_scale']:>9.2f}")
    return "\n".join(lines)


def float_layer_steps(limit):
    """How many worst layers to try in float: 0, 1, 2, 4, ... up to `limit`."""
    steps, count = [0], 1
    while count < limit:
        steps.append(count)
        count *= 2
    if limit > 0:
        steps.append(limit)
    return steps


def describe_ap_cost(cost):
    """'loses 0.28 AP points to fp32' (or 'gains ...' for a negative cost)."""
    return f"{'loses' if cost >= 0 else 'gains'} {abs(cost):.2f} AP points to fp32"


def quantize_within_budget(quantizer, ap_cost, budget, max_float_layers=64, log=print):
    """Keeps the worst layers float until `ap_cost(flatbuffer)` (AP points
    lost against float) is within `budget`.

    Tries 0, 1, 2, 4, ... of the report's worst layers, up to
    `max_float_layers`; if none is within budget, the whole blocks of the
    worst layers (`Int8Quantizer.worst_blocks`: 1, 2, 4, ... blocks, at
    most `max_float_layers` ops in all). Why blocks: a layer kept float
    alone often changes nothing, because the next layer reads its output
    in int8 at the same scale and makes the same rounding error; a whole
    block float keeps the chain float (a SpineNet-Mobile demo model lost
    2.65 AP points with its 64 worst layers float and 0.99 with the 13 ops
    of one block). Returns (flatbuffer, float layer names, cost, met): the
    first file within budget, or, if none is, the one with the smallest
    cost.
    """
    best = None

    def measure(layers, what):
        nonlocal best
        flatbuffer = quantizer.quantize(layers)
        cost = ap_cost(flatbuffer)
        log(f"  int8 with {what} in float: {describe_ap_cost(cost)} (budget: loses at "
            f"most {budget:.2f})")
        if best is None or cost < best[2]:
            best = (flatbuffer, layers, cost, cost <= budget)
        return cost <= budget

    everything = len(quantizer.worst_layers(10**9))
    for count in float_layer_steps(min(max_float_layers, everything)):
        if measure(quantizer.worst_layers(count),
                   f"{count} worst layer{'s' * (count != 1)}"):
            return best
    tried = set()
    for count in float_layer_steps(everything)[1:]:
        blocks, layers = quantizer.worst_blocks(count, max_ops=max_float_layers)
        if not blocks or tuple(blocks) in tried:
            continue
        tried.add(tuple(blocks))
        if measure(layers, f"the {len(blocks)} worst block{'s' * (len(blocks) != 1)} "
                   f"({', '.join(blocks)}: {len(layers)} layers)"):
            return best
    return best
