"""A published checkpoint (a preset) and how the catalog lists them.

Every preset is a checkpoint that was released: the TF1 files of
tensorflow/tpu's model zoo (`models/official/detection/MODEL_ZOO.md`) and
Model Garden's TF2 files (`MODEL_GARDEN.md`). A preset holds the model
section that rebuilds the network the file fits (its family's config
dataclass: flavour, activation, batch norm, heads, quirks), where the file
is, and the published figures. Each family declares its presets
(`models/<family>/presets.py`) and registers them (`spinenet_tf.registry`).
"""

import dataclasses
from typing import Any, Optional

ZOO = "https://storage.googleapis.com/cloud-tpu-checkpoints/detection"
MODEL_GARDEN = "https://storage.googleapis.com/tf_model_garden/vision"

TPU_MODEL_ZOO = "tpu-model-zoo"  # TF1, name-based (tf.train.Saver)
MODEL_GARDEN_TF2 = "model-garden"  # TF2, object-based (tf.train.Checkpoint)
SOURCES = (TPU_MODEL_ZOO, MODEL_GARDEN_TF2)


@dataclasses.dataclass(frozen=True)
class Preset:
    """One published checkpoint.

    Attributes:
        name: the catalog name, e.g. "retinanet-spinenet-49".
        family: the model family ("retinanet", "maskrcnn", "classifier", ...).
        model: the family's `model:` config section that builds the network
            the file fits (`model.build()`).
        url: where the archive was published (None: no file was released).
        source: `TPU_MODEL_ZOO` or `MODEL_GARDEN_TF2`.
        metric: what `published` measures ("COCO box AP", "ImageNet top-1").
        published: the published figure.
        published_params_m: published parameters, in millions.
        recipe: the training recipe in words.
        total_steps: training steps of the recipe the file was written by
            (the config's `total_steps`; the file's `global_step` tells
            presets of one architecture apart), None where unknown.
        loadable: False where no file can be loaded (none was released).
        notes: quirks of the released file.
    """

    name: str
    family: str
    model: Any
    url: Optional[str]
    source: str
    metric: str
    published: float
    published_params_m: float
    recipe: str
    total_steps: Optional[int] = None
    loadable: bool = True
    notes: str = ""

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"Preset {self.name}: source must be one of {SOURCES}; "
                             f"received {self.source!r}.")

    @property
    def image_size(self):
        """The input side the preset was trained at."""
        return int(self.model.image_size[0])

    @property
    def variant(self):
        """The backbone variant."""
        return self.model.backbone


def catalog_table(presets):
    """`presets` as a text table (what `spinenet-pretrained list` prints)."""
    header = (f"{'name':<36}{'source':<15}{'input':>6}  {'published':<22}"
              f"{'params':>8}  loads")
    lines = [header, "-" * len(header)]
    for p in presets:
        lines.append(
            f"{p.name:<36}{p.source:<15}{p.image_size:>6}  "
            f"{f'{p.metric} {p.published}':<22}{p.published_params_m:>7.1f}M  "
            f"{'yes' if p.loadable else 'no file'}")
    return "\n".join(lines)


def preset_record(preset):
    """A preset as plain data (`spinenet-pretrained list --json`)."""
    record = {field.name: getattr(preset, field.name)
              for field in dataclasses.fields(preset) if field.name != "model"}
    record["model"] = dataclasses.asdict(preset.model)
    return record
