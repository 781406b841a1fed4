"""Typed, bounded fields of the config sections, and their checks.

Every section is a dataclass; `bounded` declares a field's range and
`check_fields` checks each field's type (`_conform`) and range, naming the
key, the value received and what is expected.
"""

import dataclasses
import re
import typing

import yaml

from spinenet_tf.utils.suggestions import did_you_mean


class ConfigError(ValueError):
    """A configuration file or override is wrong."""


class _YamlLoader(yaml.SafeLoader):
    """YAML's safe loader, reading `4e-05` as the number it means (YAML 1.1,
    which PyYAML follows, reads exponents without a "." as strings)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def read_yaml(text_or_stream):
    """Parses YAML as the configs are read (`_YamlLoader`)."""
    return yaml.load(text_or_stream, Loader=_YamlLoader)


def bounded(default, at_least=None, above=None, at_most=None):
    """A field whose value must lie in a range (`check_fields` checks it; a
    null optional field is not checked)."""
    return dataclasses.field(default=default, metadata={
        "at_least": at_least, "above": above, "at_most": at_most})


def describe_type(field_type):
    """A field's type as the error messages say it: 'an integer', 'null or a
    list of numbers'."""
    origin, args = typing.get_origin(field_type), typing.get_args(field_type)
    if dataclasses.is_dataclass(field_type):
        return "a mapping"
    if origin is typing.Union:
        kinds = [describe_type(a) for a in args if a is not type(None)]
        return ("null or " if type(None) in args else "") + " or ".join(kinds)
    if origin is dict:
        return "a mapping"
    if origin is list:
        item = describe_type(args[0]) if args else "values"
        return "a list of " + {"an integer": "integers", "a number": "numbers",
                               "a string": "strings", "true or false": "booleans"}.get(
                                   item, "values")
    return {int: "an integer", float: "a number", bool: "true or false",
            str: "a string", typing.Any: "a value"}[field_type]


def conform(value, field_type):
    """`value` as `field_type` (an int where a float is wanted becomes a
    float), or raise TypeError. Booleans are not numbers here, and numbers
    are not booleans or strings: YAML's `eight` or `"8"` for an integer is a
    mistake, not something to convert."""
    origin, args = typing.get_origin(field_type), typing.get_args(field_type)
    if field_type is typing.Any:
        return value
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return conform(value, option)
            except TypeError:
                pass
        raise TypeError
    if origin is list:
        if not isinstance(value, list):
            raise TypeError
        return [conform(item, args[0]) for item in value] if args else value
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise TypeError
        return value
    if field_type is float and isinstance(value, (int, float)) and not isinstance(
            value, bool):
        return float(value)
    if field_type is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if field_type in (bool, str) and isinstance(value, field_type):
        return value
    raise TypeError


def check_value(value, field, key, where):
    """`value` for the dataclass field `field` (named `key` in messages):
    conformed to its type and checked against its `bounded` range; a
    ConfigError naming the key, what was received and what is expected
    otherwise."""
    try:
        value = conform(value, field.type)
    except TypeError:
        raise ConfigError(
            f"{where}: {key} must be {describe_type(field.type)}; received {value!r} "
            f"({type(value).__name__}).") from None
    if value is None:
        return value
    at_least, above, at_most = (field.metadata.get(k) for k in ("at_least", "above", "at_most"))
    if ((at_least is not None and value < at_least) or (above is not None and value <= above)
            or (at_most is not None and value > at_most)):
        wanted = " and ".join(text for text in (
            at_least is not None and f">= {at_least}", above is not None and f"> {above}",
            at_most is not None and f"<= {at_most}") if text)
        raise ConfigError(f"{where}: {key} must be {wanted}; received {value!r}.")
    return value


def check_fields(section, where, prefix=""):
    """Every field of the dataclass `section` (and of the sections in it)
    has its declared type and lies in its `bounded` range (`check_value`).
    Conforms ints given for floats in place."""
    for field in dataclasses.fields(section):
        key, value = f"{prefix}{field.name}", getattr(section, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_fields(value, where, f"{key}.")
            continue
        object.__setattr__(section, field.name, check_value(value, field, key, where))


def check_choice(value, allowed, key, where):
    """Raises naming `key` (and the closest choices) unless `value` is one
    of `allowed`."""
    if value not in allowed:
        close = did_you_mean(value, [a for a in allowed if isinstance(a, str)])
        raise ConfigError(f"{where}: {key} must be one of {list(allowed)}; received "
                          f"{value!r}{close}.")
