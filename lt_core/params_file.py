"""Reading a params file: strict YAML (one-line errors with the line and column), and the
one-line ``ConfigError`` every invalid parameter raises (``lt_core.config`` re-exports both)."""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """An invalid parameter; the message is one line that names the field."""


def read_yaml(source: str | Path) -> dict:
    """The fields in a params file ({} if it is empty); a one-line ConfigError naming the file,
    and the line and column of a YAML mistake, otherwise."""
    path = Path(source)
    try:
        data = yaml.load(path.read_text(), _ParamsLoader)
    except FileNotFoundError:
        raise ConfigError(f"params file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"params file {path} cannot be read ({err})") from None
    except RecursionError:  # PyYAML composes nested lists and mappings recursively
        raise ConfigError(f"{path}: lists or mappings nested too deeply for a params file"
                          ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        if not isinstance(err, _Refused):
            problem = f"not valid YAML ({problem})"
        raise ConfigError(f"{where}: {problem}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of fields, like params/quick/*.yaml "
                          f"(got a {type(data).__name__})")
    return data or {}


def parse_yaml(text: str, where: str) -> Any:
    """One value written in YAML (a command line's), read as a params file's values are; a
    one-line ConfigError naming ``where`` otherwise."""
    try:
        return yaml.load(text, _ParamsLoader)
    except (yaml.YAMLError, RecursionError) as err:
        problem = getattr(err, "problem", None) or type(err).__name__
        raise ConfigError(f"{where}: not valid YAML ({problem})") from None


class _Refused(yaml.MarkedYAMLError):
    """YAML that parses but that a params file may not hold; the problem says why."""


class _ParamsLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, stricter where PyYAML is silent or unbounded: a key given
    twice is an error (PyYAML keeps the last one), aliases are refused (a few lines of nested
    ``*a`` expand to billions of values: the "billion laughs"; no params file needs them), and
    a scalar PyYAML matches but cannot convert (a 5000-digit integer, 2001-02-30) is a
    YAML error with its line, not a bare ValueError."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(None, None, f"YAML aliases (*{event.anchor[:20]}) are not read in "
                           "params files; write the value out", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        first: dict[str, int] = {}
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else []:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.value in first:
                raise _Refused(None, None, f"key {quote(key_node.value)} given twice (first on "
                               f"line {first[key_node.value] + 1}); keep one",
                               key_node.start_mark)
            first[key_node.value] = key_node.start_mark.line
        return super().construct_mapping(node, deep)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except ValueError as err:  # int() or date() of a scalar PyYAML matched
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {quote(node.value)} ({str(err).split(':')[0]})",
                node.start_mark) from None


def quote(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for an error message. ``reprlib`` stops at
    a few items and levels, so a value of a million items costs no more than one of four."""
    short = reprlib.Repr()  # (Python 3.11's takes no arguments)
    short.maxlevel, short.maxstring, short.maxlong, short.maxother = 3, limit, limit, limit
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 4
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
