"""Image classification: model, image-folder inputs, top-1 / top-5."""

import os

import keras
import tensorflow as tf

from spinenet_tf.data.training_stream import endless_shuffled
from spinenet_tf.models.base.task import Task


class ClassificationTask(Task):
    """A SpineNetClassifier experiment (`model.type: classifier`) on an image
    folder with one sub-folder per class (sorted names give the labels)."""

    def compile_model(self, model, optimizer):
        model.compile(optimizer=optimizer, jit_compile=self.config.trainer.jit_compile,
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="top1"),
                               keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")])

    def listing(self, data):
        """(image paths, class indices) of an image folder (one sub-folder
        per class, sorted, as Keras lists it), its images checked
        (`check_source_images`)."""
        if data.source != "image_folder":
            raise ValueError("Classification data must be an 'image_folder'; "
                             f"received {data.source!r}.")
        name = f"{self.data_config_name(data)}.image_dir"
        if not (data.image_dir and os.path.isdir(data.image_dir)):
            raise FileNotFoundError(f"{name} {data.image_dir!r} does not exist or is not "
                                    "a folder.")
        # Keras lists the folder; files are read by the caller's pipeline
        # so the training stream can be resumed exactly.
        listing = keras.utils.image_dataset_from_directory(
            data.image_dir, batch_size=None, shuffle=False, label_mode="int",
            verbose=False)
        self.check_source_images(data, listing.file_paths)
        class_ids = {name: i for i, name in enumerate(listing.class_names)}
        labels = [class_ids[os.path.relpath(path, data.image_dir).split(os.sep)[0]]
                  for path in listing.file_paths]
        return listing.file_paths, labels

    def dataset(self, model, data, training, initial_step=0, input_context=None):
        """(image, label) batches of an image folder in the model's geometry
        (its preprocessor: the reference's random crop and flip in training,
        its centre crop in evaluation, as serving); training streams repeat
        and shuffle (and with `input_context`, are sharded into per-replica
        batches)."""
        paths, labels = self.listing(data)
        dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
        seed = self.config.trainer.seed
        batch_size = data.batch_size
        if input_context is not None:
            batch_size = input_context.get_per_replica_batch_size(batch_size)
            if input_context.num_input_pipelines > 1:
                dataset = dataset.shard(input_context.num_input_pipelines,
                                        input_context.input_pipeline_id)
        if training:
            dataset = endless_shuffled(dataset, data.shuffle_buffer, seed,
                                       skip=initial_step * batch_size)
        else:
            dataset = dataset.enumerate()
        preprocessor = model.preprocessor

        def load(index, example):
            path, label = example
            image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                                       expand_animations=False)
            if not training:
                return preprocessor.preprocess(image)[0], label
            seed_pair = tf.stack([tf.constant(seed, tf.int64), index])
            pixels, _ = preprocessor.training_geometry(image, seed_pair + [0, 1])
            if data.aug_rand_hflip:
                flip = tf.random.stateless_uniform([], seed_pair) > 0.5
                pixels = tf.cond(flip, lambda: tf.image.flip_left_right(pixels),
                                 lambda: pixels)
            return preprocessor.normalize(pixels), label

        dataset = dataset.map(tf.autograph.experimental.do_not_convert(load),
                              num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(batch_size, drop_remainder=training).prefetch(
            tf.data.AUTOTUNE)

    def check_data(self):
        """Lists and checks both image folders before a model is built."""
        for data in (self.config.train_data, self.config.eval_data):
            self.listing(data)

    def train_dataset(self, model, initial_step=0, input_context=None):
        return self.dataset(model, self.config.train_data, True, initial_step,
                            input_context)

    metric_names = ("top1", "top5")

    def evaluate(self, model, progress=True):
        result = model.evaluate(self.dataset(model, self.config.eval_data, False),
                                verbose=0, return_dict=True)
        return {"top1": result["top1"], "top5": result["top5"]}
