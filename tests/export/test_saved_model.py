"""SavedModel export: the three signatures in a fresh process, bad requests,
and a TF Serving REST request decoded the way TF Serving decodes it."""

import base64
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from support import detection_rows as rows
from support import images_of_sizes, keras_detections, tiny_detector

from spinenet_tf.export import export_saved_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = tiny_detector()
    path = export_saved_model(model, str(tmp_path_factory.mktemp("export") / "saved_model"))
    return model, path


RUN_SIGNATURES = r"""
import base64, json, sys
import numpy as np
import tensorflow as tf
path, request = sys.argv[1], json.load(open(sys.argv[2]))
loaded = tf.saved_model.load(path)
out = {}
for name, args in request.items():
    fn = loaded.signatures[name]
    (key, spec), = fn.structured_input_signature[1].items()
    if spec.dtype == tf.string:
        value = tf.constant([base64.b64decode(a) for a in args])
    else:
        value = tf.constant(np.asarray(args, "uint8"))
    result = fn(**{key: value})
    out[name] = {k: v.numpy().tolist() for k, v in result.items()}
json.dump(out, open(sys.argv[3], "w"))
"""


def encode(image, fmt="png"):
    if fmt == "png":
        return tf.io.encode_png(image).numpy()
    return tf.io.encode_jpeg(image, quality=100).numpy()


def serialized_example(encoded):
    return tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
    })).SerializeToString()


@pytest.mark.slow
def test_signatures_in_a_fresh_process_match_the_keras_model(exported, tmp_path):
    model, path = exported
    same_size = images_of_sizes([(96, 160), (96, 160)])
    mixed = images_of_sizes([(200, 90), (64, 64)], seed=1)
    request = {
        "serving_default": [i.tolist() for i in same_size],
        "serve_image_tensor": [i.tolist() for i in same_size],
        "serve_encoded_image": [base64.b64encode(encode(i)).decode() for i in mixed],
        "serve_tf_example": [base64.b64encode(serialized_example(encode(i))).decode()
                             for i in mixed],
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    script = tmp_path / "run.py"
    script.write_text(RUN_SIGNATURES)
    subprocess.run([sys.executable, str(script), path, str(tmp_path / "request.json"),
                    str(tmp_path / "out.json")], check=True, capture_output=True)
    out = json.loads((tmp_path / "out.json").read_text())
    for name, images in (("serving_default", same_size), ("serve_image_tensor", same_size),
                         ("serve_encoded_image", mixed), ("serve_tf_example", mixed)):
        result = out[name]
        assert set(result) == {"detection_boxes", "detection_scores",
                               "detection_classes", "num_detections"}
        for b, image in enumerate(images):
            boxes, scores, classes = keras_detections(model, image)
            count = result["num_detections"][b]
            assert count == len(scores) and count > 0, name
            # Random weights give exactly tied scores (e.g. over the padding),
            # whose order is arbitrary: compare the detections as sets.
            got = rows(result["detection_boxes"][b][:count],
                       result["detection_scores"][b][:count],
                       result["detection_classes"][b][:count])
            np.testing.assert_allclose(got, rows(boxes, scores, classes), atol=2e-3,
                                       err_msg=name)
            h, w = image.shape[:2]
            got = np.asarray(result["detection_boxes"][b][:count])
            assert got.min() >= 0 and np.all(got[:, 2] <= h) and np.all(got[:, 3] <= w)


def test_saved_model_cli_lists_the_signatures(exported):
    _, path = exported
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True,
                            text=True, check=True)
    for name in ("serving_default", "serve_image_tensor", "serve_encoded_image",
                 "serve_tf_example", "detection_boxes", "num_detections"):
        assert name in result.stdout


def test_bad_requests_are_clear_errors(exported):
    _, path = exported
    loaded = tf.saved_model.load(path)
    tensor = loaded.signatures["serve_image_tensor"]
    errors = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    with pytest.raises(errors, match="expected to be a uint8 tensor but is a float"):
        tensor(images=tf.zeros([1, 64, 64, 3], tf.float32))
    with pytest.raises(errors, match="shape|rank"):
        tensor(images=tf.zeros([64, 64, 3], tf.uint8))
    encoded = loaded.signatures["serve_encoded_image"]
    good = encode(images_of_sizes([(32, 32)])[0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="image 1 of the batch|Unknown image"):
        encoded(encoded_images=tf.constant([good, b"not an image"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="image 0 of the batch is empty"):
        encoded(encoded_images=tf.constant([b"", good]))
    # The module is still usable after the errors.
    assert int(encoded(encoded_images=tf.constant([good]))["num_detections"].shape[0]) == 1


def documented_rest_request():
    """The REST request JSON of docs/export.md, as written there."""
    text = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                             "export.md")).read()
    block = text.split("<!-- rest-request -->", 1)[1].split("```json", 1)[1]
    return json.loads(block.split("```", 1)[0])


def tf_serving_decode(request, signature):
    """Inputs as TF Serving's REST API builds them from a row-format request:
    `instances` stacked into the batch; `{"b64": ...}` objects become bytes
    for string inputs; with one input an instance is its value."""
    (name, spec), = signature.structured_input_signature[1].items()

    def value(item):
        if isinstance(item, dict):
            if set(item) == {"b64"}:
                return base64.b64decode(item["b64"])
            return value(item[name])
        return item

    values = [value(i) for i in request["instances"]]
    if spec.dtype == tf.string:
        return {name: tf.constant(values, tf.string)}
    return {name: tf.constant(np.asarray(values), spec.dtype)}


def test_the_documented_rest_request_gives_the_detections(exported):
    model, path = exported
    request = documented_rest_request()
    image = images_of_sizes([(120, 90)], seed=3)[0]
    request["instances"][0]["b64"] = base64.b64encode(encode(image)).decode()
    signature = tf.saved_model.load(path).signatures[request["signature_name"]]
    result = signature(**tf_serving_decode(request, signature))
    boxes, scores, classes = keras_detections(model, image)
    count = int(result["num_detections"][0])
    assert count == len(scores) > 0
    np.testing.assert_allclose(
        rows(result["detection_boxes"][0, :count].numpy(),
             result["detection_scores"][0, :count].numpy(),
             result["detection_classes"][0, :count].numpy()),
        rows(boxes, scores, classes), atol=2e-3)
