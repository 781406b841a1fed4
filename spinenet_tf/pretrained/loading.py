"""Building a catalog entry's model and loading its published weights.

`load_pretrained("retinanet-spinenet-49")` fetches the archive once
(`keras.utils.get_file` caches it under `~/.keras/`), builds the TPU-flavour
model the entry describes and reads the TF1 checkpoint into it by name
(`convert.tf1_checkpoint`), or Model Garden's TF2 file by its keys
(`convert.model_garden_checkpoint`): every variable of the file is loaded or
skipped by a named rule. `path` may instead be a local `.tar.gz`, a folder holding
one checkpoint, or a checkpoint prefix.
"""

import glob
import os
import shutil
import tarfile

from spinenet_tf.pretrained.catalog import (
    MODEL_GARDEN_TF2, TPU_MODEL_ZOO, CatalogEntry, get_entry)


class PretrainedArchiveError(ValueError):
    """A file given as a pretrained checkpoint holds no usable checkpoint."""


def _entry(entry):
    return entry if isinstance(entry, CatalogEntry) else get_entry(entry)


def build_model(entry, image_size=None):
    """The (untrained) Keras model a catalog entry's checkpoint fits.

    Args:
        entry: a `CatalogEntry` or its name.
        image_size: input side (default: the entry's; classifiers: 256,
            the nearest side this project's SpineNet takes to 224).
    """
    from spinenet_tf.backbones.variants import get_variant

    entry = _entry(entry)
    if not entry.loadable:
        raise ValueError(f"{entry.name} cannot be built yet: {entry.notes}")
    flavor = "tpu" if entry.source == TPU_MODEL_ZOO else "model_garden"
    backbone_options = dict(norm_momentum=entry.norm_momentum,
                            norm_epsilon=entry.norm_epsilon)
    if entry.endpoints_num_filters is not None:
        backbone_options["endpoints_num_filters"] = entry.endpoints_num_filters
    name = entry.name.replace("-", "_")
    if entry.family == "retinanet":
        from spinenet_tf.retinanet.retinanet import RetinaNet

        options = {}
        if entry.head_num_filters is not None:
            options["head_num_filters"] = entry.head_num_filters
        if entry.head_num_convs is not None:
            options["head_num_convs"] = entry.head_num_convs
        if entry.anchor_size is not None:
            options["anchor_size"] = entry.anchor_size
        return RetinaNet.from_variant(
            entry.variant, num_classes=entry.num_classes, image_size=image_size,
            activation=entry.activation, flavor=flavor,
            backbone_kwargs=backbone_options, **options)
    if entry.family == "classifier":
        from spinenet_tf.classifier.spinenet_classifier import SpineNetClassifier

        size = image_size or 256
        backbone = get_variant(entry.variant).build(
            size, flavor=flavor, activation=entry.activation, **backbone_options)
        return SpineNetClassifier(backbone, entry.num_classes,
                                  aggregation=entry.aggregation, name=name)
    if entry.family == "maskrcnn":
        from spinenet_tf.maskrcnn.maskrcnn import MaskRCNN

        options = dict(anchor_size=entry.anchor_size,
                       rpn_norm_each_conv=entry.rpn_norm_each_conv)
        for head in ("rpn", "box", "mask"):
            if entry.head_num_convs is not None:
                options[f"{head}_num_convs"] = entry.head_num_convs
            if entry.head_num_filters is not None:
                options[f"{head}_num_filters"] = entry.head_num_filters
        return MaskRCNN.from_variant(
            entry.variant, num_classes=entry.num_classes, image_size=image_size,
            activation=entry.activation, flavor=flavor, backbone_kwargs=backbone_options,
            name=name, **options)
    raise ValueError(f"{entry.name}: unknown family {entry.family!r}.")


def checkpoint_names(model):
    """`{model-zoo variable name: keras variable}` of a model built by
    `build_model` (a RetinaNet, a Mask R-CNN or a classifier on SpineNet)."""
    from spinenet_tf.classifier.spinenet_classifier import SpineNetClassifier
    from spinenet_tf.convert import model_zoo_names
    from spinenet_tf.maskrcnn.maskrcnn import MaskRCNN
    from spinenet_tf.retinanet.retinanet import RetinaNet

    if isinstance(model, RetinaNet):
        return model_zoo_names.retinanet_names(model)
    if isinstance(model, MaskRCNN):
        return model_zoo_names.maskrcnn_names(model)
    if isinstance(model, SpineNetClassifier):
        return model_zoo_names.classifier_names(model)
    raise TypeError(
        "Model-zoo checkpoints load into a RetinaNet, a MaskRCNN or a SpineNetClassifier; "
        f"received {type(model).__name__} {model.name!r}.")


def _extract(archive, cache_dir):
    """Extracts `archive` beside the cache once; returns the folder."""
    stem = os.path.basename(archive)
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    target = os.path.join(cache_dir, stem)
    if os.path.isdir(target) and glob.glob(os.path.join(target, "**", "*.index"),
                                           recursive=True):
        return target
    try:
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            for member in members:
                if os.path.isabs(member.name) or ".." in member.name.split("/"):
                    raise PretrainedArchiveError(
                        f"{archive}: refusing member {member.name!r} outside the "
                        "archive's folder.")
            partial = target + ".partial"
            shutil.rmtree(partial, ignore_errors=True)  # a failed earlier try
            # The "data" filter (Python >= 3.11.4) also refuses links and
            # special files; the check above covers older patch releases.
            options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(partial, members=members, **options)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise PretrainedArchiveError(
            f"{archive} is not a readable .tar.gz archive: {error}") from None
    shutil.rmtree(target, ignore_errors=True)  # an earlier one without a checkpoint
    os.replace(partial, target)
    return target


def resolve_checkpoint(path, cache_dir=None):
    """A checkpoint prefix from a prefix, a folder or a `.tar.gz` archive."""
    path = os.fspath(path)
    if os.path.isfile(path) and tarfile.is_tarfile(path):
        path = _extract(path, cache_dir or os.path.dirname(os.path.abspath(path)))
    if os.path.isdir(path):
        prefixes = sorted(p[: -len(".index")] for p in glob.glob(
            os.path.join(path, "**", "*.index"), recursive=True))
        if not prefixes:
            raise PretrainedArchiveError(
                f"{path} holds no checkpoint (no '*.index' file in it or below).")
        if len(prefixes) > 1:
            raise PretrainedArchiveError(
                f"{path} holds {len(prefixes)} checkpoints ({prefixes[:3]}); pass "
                "one prefix.")
        return prefixes[0]
    if not os.path.exists(path + ".index"):
        raise FileNotFoundError(
            f"No checkpoint at {path!r}: expected a .tar.gz archive, a folder, or "
            f"a prefix with {path + '.index'!r} beside its data files.")
    return path


def download(entry, cache_dir=None):
    """The entry's archive, fetched once into Keras' cache (`$KERAS_HOME`
    or `~/.keras`, or `cache_dir`) under `models/spinenet_tf/`."""
    import keras

    entry = _entry(entry)
    # get_file falls back to /tmp/.keras when the folder does not exist yet.
    cache_dir = cache_dir or os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))
    os.makedirs(cache_dir, exist_ok=True)
    return keras.utils.get_file(
        fname=os.path.basename(entry.url), origin=entry.url, cache_dir=cache_dir,
        cache_subdir=os.path.join("models", "spinenet_tf"))


def load_pretrained(entry, path=None, image_size=None, cache_dir=None):
    """The catalog entry's model with its published weights.

    Args:
        entry: a catalog name ("retinanet-spinenet-49", see
            `spinenet_tf.pretrained.CATALOG`) or entry.
        path: a local `.tar.gz`, folder or checkpoint prefix (default: the
            entry's URL, downloaded once).
        image_size: input side (see `build_model`).
        cache_dir: where downloads are kept (default: Keras' `~/.keras`).

    Returns:
        The Keras model; `model.pretrained_report` lists what was skipped.
    """
    from spinenet_tf.convert.tf1_checkpoint import load_named_variables

    entry = _entry(entry)
    model = build_model(entry, image_size)
    prefix = resolve_checkpoint(path or download(entry, cache_dir))
    if entry.source == MODEL_GARDEN_TF2:
        from spinenet_tf.convert.model_garden_checkpoint import (
            load_model_garden_checkpoint_by_keys)

        skipped = load_model_garden_checkpoint_by_keys(model, prefix)
    else:
        skipped = load_named_variables(prefix, checkpoint_names(model),
                                       f"{entry.name} ({type(model).__name__})")
    model.pretrained_report = {"entry": entry.name, "checkpoint": prefix,
                               "loaded": len(model.weights), "skipped": skipped}
    return model
