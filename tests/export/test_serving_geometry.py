"""One image geometry per task: an image gives the same model input through
the evaluation pipeline and through each serving signature, and the exported
SavedModel gives what the Keras model gives on the evaluation input."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml
from support import SHORT_MOBILE_BLOCK_SPECS, tiny_detector

import spinenet_tf
from spinenet_tf.config import load_config
from spinenet_tf.data.coco import load_coco
from spinenet_tf.data.detection_input import DetectionInput, examples_from_coco
from spinenet_tf.export import ServingModule, export_saved_model
from spinenet_tf.models.classifier.classification_task import ClassificationTask

SIGNATURES = ("serving_default", "serve_image_tensor", "serve_encoded_image",
              "serve_tf_example")
SHAPES = [(90, 140), (150, 70)]  # not square, not the input size


def pictures(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape + (3,)).astype("uint8") for shape in SHAPES]


def requests(image):
    """The one image as each signature takes it."""
    encoded = tf.io.encode_png(image).numpy()
    example = tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))}))
    return {"serving_default": image[None], "serve_image_tensor": image[None],
            "serve_encoded_image": [encoded],
            "serve_tf_example": [example.SerializeToString()]}


def assert_same_model_input(model, image, expected_input, expected_info):
    module = ServingModule(model)
    for name, request in requests(image).items():
        received, info = module.model_inputs(name, request)
        np.testing.assert_allclose(received[0], expected_input, atol=2e-5, err_msg=name)
        np.testing.assert_allclose(info[0], expected_info, rtol=1e-6, err_msg=name)


def coco_folder(folder, images):
    (folder / "images").mkdir(parents=True)
    entries, annotations = [], []
    for index, image in enumerate(images, 1):
        tf.io.write_file(str(folder / "images" / f"{index}.png"), tf.io.encode_png(image))
        entries.append({"id": index, "file_name": f"{index}.png",
                        "height": image.shape[0], "width": image.shape[1]})
        annotations.append({"id": index, "image_id": index, "category_id": 1,
                            "bbox": [5, 6, 30, 20], "area": 600, "iscrowd": 0})
    with open(folder / "annotations.json", "w") as f:
        json.dump({"images": entries, "annotations": annotations,
                   "categories": [{"id": 1, "name": "thing"}]}, f)
    return load_coco(str(folder / "annotations.json"), str(folder / "images"))


@pytest.mark.slow
def test_detection_serves_its_evaluation_geometry(tmp_path):
    model = tiny_detector()
    images = pictures()
    dataset = coco_folder(tmp_path / "coco", images)
    evaluation = DetectionInput(model.preprocessor, training=False)(
        examples_from_coco(dataset), batch_size=len(images))
    batch, targets, _ = next(iter(evaluation))
    for index, image in enumerate(images):
        assert_same_model_input(model, image, batch[index], targets["image_info"][index])
    # The exported file, on the original images, gives the Keras model's
    # detections on the evaluation pipeline's input.
    path = export_saved_model(model, str(tmp_path / "saved"))
    expected = model.serving_outputs(batch, targets["image_info"])
    signatures = tf.saved_model.load(path).signatures
    for name in SIGNATURES:
        for index, image in enumerate(images):
            (key,) = signatures[name].structured_input_signature[1]
            value = requests(image)[name]
            received = signatures[name](**{key: tf.constant(value)})
            count = int(expected["num_detections"][index])
            assert int(received["num_detections"][0]) == count > 0
            np.testing.assert_allclose(received["detection_scores"][0, :count],
                                       expected["detection_scores"][index, :count],
                                       atol=1e-4, err_msg=name)
            np.testing.assert_allclose(received["detection_boxes"][0, :count],
                                       expected["detection_boxes"][index, :count],
                                       atol=1e-2, err_msg=name)


def classification_task(folder, size):
    for name, image in zip(("a", "b"), pictures(1)):
        (folder / name).mkdir(parents=True)
        tf.io.write_file(str(folder / name / "image.png"), tf.io.encode_png(image))
    data = {"source": "image_folder", "image_dir": str(folder), "batch_size": 2}
    path = folder.parent / "classifier.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"type": "classifier", "backbone": "spinenet-mobile-49xs",
                  "block_specs": SHORT_MOBILE_BLOCK_SPECS,
                  "image_size": [size, size], "num_classes": 2},
        "train_data": data, "eval_data": data}))
    return ClassificationTask(load_config(str(path)))


def test_classification_serves_its_evaluation_geometry(tmp_path):
    keras.utils.set_random_seed(0)
    task = classification_task(tmp_path / "folder", 128)
    model = task.build_network()
    assert model.preprocessor.center_crop_fraction == 0.875
    batch, labels = next(iter(task.dataset(model, task.config.eval_data, training=False)))
    for image, expected in zip(pictures(1), batch):
        _, info = model.preprocessor.preprocess(image)
        assert_same_model_input(model, image, expected, info)
    path = export_saved_model(model, str(tmp_path / "saved"))
    signatures = tf.saved_model.load(path).signatures
    expected = model(batch, training=False)
    for name in SIGNATURES:
        for index, image in enumerate(pictures(1)):
            (key,) = signatures[name].structured_input_signature[1]
            received = signatures[name](**{key: tf.constant(requests(image)[name])})
            np.testing.assert_allclose(received["logits"][0], expected[index], atol=1e-4,
                                       err_msg=name)


@pytest.mark.reference
def test_classification_geometry_is_the_references():
    """Evaluation: the reference's centre crop (0.875 of the short side) and
    resize; training: a crop inside the image, deterministic per seed."""
    preprocess_ops = pytest.importorskip("official.vision.ops.preprocess_ops")
    preprocessor = spinenet_tf.ImagePreprocessor((64, 64), center_crop_fraction=0.875)
    for image in pictures(2):
        ours, info = preprocessor.geometry(tf.constant(image))
        reference = tf.image.resize(preprocess_ops.center_crop_image(tf.constant(image)),
                                    (64, 64))
        np.testing.assert_allclose(ours, reference, atol=1e-3)
        side = int(0.875 * min(image.shape[:2]))
        np.testing.assert_allclose(info[2], [64 / side, 64 / side], rtol=1e-6)
        seed = tf.constant([3, 4], tf.int64)
        first, first_info = preprocessor.training_geometry(tf.constant(image), seed)
        again, _ = preprocessor.training_geometry(tf.constant(image), seed)
        np.testing.assert_array_equal(first, again)
        assert first.shape == (64, 64, 3)
        crop = 64 / first_info[2].numpy()  # the crop's size in the original
        corner = first_info[3].numpy() / first_info[2].numpy()
        assert np.all(corner >= 0) and np.all(corner + crop <= np.array(image.shape[:2]) + 1e-3)
