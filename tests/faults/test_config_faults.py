"""Fault injection, configs: every field of every config section of every
model family, given a value of the wrong type or outside its range, is an
error that names the key, what was received and what was expected. The
cases are generated from the dataclasses and the registry, so a new field
or family is covered when it is added."""

import dataclasses
import os
import subprocess
import sys
import typing

import pytest
from support import DEMO_CONFIG, ROOT

from spinenet_tf import registry
from spinenet_tf.config import ConfigError, ExperimentConfig, load_config

# A shipped config of each family, the one its fields' cases load.
FAMILY_CONFIGS = {family: os.path.join(ROOT, "configs", name) for family, name in (
    ("retinanet", "retinanet_mobile_synthetic_demo.yaml"),
    ("maskrcnn", "maskrcnn_mobile_synthetic.yaml"),
    ("cascade_rcnn", "cascade_rcnn_mobile_synthetic.yaml"),
    ("classifier", "classifier_spinenet49_imagenet.yaml"))}


def _section_fields(section, prefix):
    for field in dataclasses.fields(section):
        if dataclasses.is_dataclass(field.type):
            yield from _section_fields(field.type, f"{prefix}{field.name}.")
        elif field.name != "type":  # the family's name, not a setting
            yield f"{prefix}{field.name}", field


def _fields():
    """(config file, key, field) of every setting: the shared sections once,
    each family's `model:` and `losses:` sections with that family's config."""
    for field in dataclasses.fields(ExperimentConfig):
        if dataclasses.is_dataclass(field.type):
            for key, item in _section_fields(field.type, f"{field.name}."):
                yield DEMO_CONFIG, key, item
    for name, family in registry.families().items():
        for section, cls in (("model", family.config_class), ("losses", family.losses_class)):
            for key, item in _section_fields(cls, f"{section}."):
                yield FAMILY_CONFIGS[name], key, item


def test_every_family_has_a_config_here():
    assert set(FAMILY_CONFIGS) == set(registry.families())


def _accepts(field_type, value):
    origin, args = typing.get_origin(field_type), typing.get_args(field_type)
    if field_type is typing.Any:
        return True
    if origin is typing.Union:
        return any(_accepts(a, value) for a in args)
    if field_type is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list)
    if origin is dict:
        return isinstance(value, dict)
    if field_type is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if field_type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, field_type)


# YAML text of values of every kind; each field gets the first its type refuses.
_WRONG = (("eight", "eight"), ("[1, 2]", [1, 2]), ("{a: 1}", {"a": 1}), ("3", 3),
          ("true", True))


def _case_id(path, key):
    return f"{os.path.basename(path).split('_')[0]}:{key}"


def _wrong_type_cases():
    for path, key, field in _fields():
        for text, value in _WRONG:
            if not _accepts(field.type, value):
                yield pytest.param(path, key, text, value, id=_case_id(path, key))
                break


def _out_of_range_cases():
    for path, key, field in _fields():
        at_least, above, at_most = (field.metadata.get(k)
                                    for k in ("at_least", "above", "at_most"))
        case = _case_id(path, key)
        if at_least is not None:
            yield pytest.param(path, key, at_least - 1, f">= {at_least}", id=f"{case}<min")
        if above is not None:
            yield pytest.param(path, key, above, f"> {above}", id=f"{case}=bound")
        if at_most is not None:
            yield pytest.param(path, key, at_most + 1, f"<= {at_most}", id=f"{case}>max")


WRONG_TYPES = list(_wrong_type_cases())
OUT_OF_RANGE = list(_out_of_range_cases())


def test_every_field_is_covered():
    assert len(WRONG_TYPES) == len(list(_fields()))
    assert len(OUT_OF_RANGE) >= 30


@pytest.mark.parametrize("path,key,text,value", WRONG_TYPES)
def test_a_value_of_the_wrong_type_names_the_key(path, key, text, value):
    with pytest.raises(ConfigError) as raised:
        load_config(path, [f"{key}={text}"])
    message = str(raised.value)
    assert f"{key} must be " in message and f"received {value!r}" in message, message
    assert os.path.basename(path) in message


@pytest.mark.parametrize("path,key,value,bound", OUT_OF_RANGE)
def test_a_value_out_of_range_names_the_key_and_the_bound(path, key, value, bound):
    with pytest.raises(ConfigError, match=rf"{key} must be [^;]*{bound}[^;]*; received"):
        load_config(path, [f"{key}={value}"])


def test_yaml_exponents_without_a_point_are_numbers(tmp_path):
    """PyYAML reads `4e-05` as a string (YAML 1.1); the recipes write it so."""
    path = tmp_path / "c.yaml"
    path.write_text("losses:\n  l2_weight_decay: 4e-05\noptimizer:\n  values: [1e-3]\n")
    config = load_config(str(path))
    assert config.losses.l2_weight_decay == 4e-05 and config.optimizer.values == [1e-3]


@pytest.mark.slow
def test_train_py_names_the_key_on_one_line(tmp_path):
    """The message that used to be "not all arguments converted during string
    formatting": one line, status 2, no traceback."""
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train.py"), "--config", DEMO_CONFIG,
         "--model_dir", str(tmp_path / "run"), "--set", "train_data.batch_size=eight"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error == [f"error: ConfigError: {DEMO_CONFIG}: train_data.batch_size must be an "
                     "integer; received 'eight' (str)."], result.stderr
    assert not os.path.exists(tmp_path / "run" / "checkpoints")
