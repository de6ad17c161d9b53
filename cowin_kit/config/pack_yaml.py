"""A country pack's YAML read with the line of every key, and the problem rows every
check of a pack reports (``FILE:LINE: field: message``): the reading half of
:mod:`cowin_kit.config.packs`. Anchors and aliases are refused (a small file could expand
to gigabytes), and so is nesting beyond 100 levels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import yaml


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class PackInvalid(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s) in the pack")
        self.problems = problems


class _LineMap:
    """Maps a path inside a YAML document, e.g. ('id_types', 2, 'validator'), to its line."""

    def __init__(self) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}

    def line_of(self, path: tuple[Any, ...]) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class _PackLoader(yaml.SafeLoader):
    """The safe loader without anchors and aliases: a pack needs none, and aliases let a
    small file expand to gigabytes (or refer to itself)."""

    max_depth = 100
    depth = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed in a pack",
                event.start_mark)
        if self.depth >= self.max_depth:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {self.max_depth} levels", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _load_yaml(text: str, file: str, problems: list[Problem]) -> tuple[Any, _LineMap]:
    line_map = _LineMap()
    try:
        loader = _PackLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problems.append(Problem(file, line, "(yaml)", f"not valid YAML: {getattr(exc, 'problem', exc)}"))
        return None, line_map
    if node is not None:
        _record_lines(node, (), line_map, file, problems)
    return data, line_map


def _record_lines(node: yaml.Node, path: tuple[Any, ...], line_map: _LineMap, file: str,
                  problems: list[Problem]) -> None:
    line_map.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            if key in seen:
                problems.append(Problem(file, key_node.start_mark.line + 1,
                                        _dotted(path + (key,)), "duplicate key"))
            seen.add(key)
            line_map.lines[path + (key,)] = key_node.start_mark.line + 1
            _record_lines(value_node, path + (key,), line_map, file, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, path + (index,), line_map, file, problems)


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _schema_problems(messages: Any, path: tuple[Any, ...], line_map: _LineMap,
                     file: str) -> list[Problem]:
    """Flatten marshmallow's nested error dict into Problems."""
    found: list[Problem] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                found += _schema_problems(value, path, line_map, file)
            else:
                found += _schema_problems(value, path + (key,), line_map, file)
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                found += _schema_problems(message, path, line_map, file)
            else:
                if message == "Unknown field.":
                    message = "unknown field"
                elif message == "Missing data for required field.":
                    message = "required field is missing"
                found.append(Problem(file, line_map.line_of(path), _dotted(path), str(message)))
    return found
