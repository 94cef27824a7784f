"""Loading YAML that users hand over (SAGE YAMLs, materialization YAMLs), safely.

PyYAML's SafeLoader never builds Python objects from tags (`!!python/object` is an error), but
two things remain. It expands aliases: a dozen lines of anchors and aliases (the "billion
laughs") describe a document of 10^9 nodes, and any code that walks or prints it then takes all
memory and time. And it keeps the last of two equal mapping keys without a word, which hides a
typo. `load_yaml` composes the node graph first (aliases stay shared references, so that is
cheap), counts the nodes the document would have with every alias expanded, and refuses it past
`MAX_EXPANDED_NODES` when aliases are what makes it large; then it builds the document,
refusing duplicate keys. A document nested deeper than Python's recursion allows is refused too.
"""

from __future__ import annotations

from typing import Any

import yaml

# Far above any real SAGE or materialization YAML once expanded; a document without aliases
# is never refused for its size (its text already is that large).
MAX_EXPANDED_NODES = 200_000


class YamlProblem(Exception):
    """Why a text is not acceptable YAML; `line` (1-based) when the parser knows it."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    # Keys written in this mapping must be unique; keys merged in with `<<: *anchor` may be
    # overridden by them (that is what merging is for).
    written = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    seen: set[Any] = set()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:  # a list or mapping used as a key
            raise YamlProblem(key_node.start_mark.line + 1, "a mapping key must be a plain value") from None
        if id(key_node) in written:
            if key in seen:
                raise YamlProblem(key_node.start_mark.line + 1, f"duplicate key {key!r}")
            seen.add(key)
        result[key] = loader.construct_object(value_node, deep=deep)
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(nodes with every alias expanded, distinct nodes) of a composed document, iteratively;
    raises YamlProblem for an alias that refers to a node containing it (infinite)."""
    size: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            size[id(node)] = 1 + sum(size[id(c)] for c in children)
            continue
        if id(node) in size:
            continue
        if id(node) in open_nodes:
            raise YamlProblem(node.start_mark.line + 1, "an alias refers to a node that contains it")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)], len(size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_yaml(text: str) -> Any:
    """The document in `text` (None when empty); raises YamlProblem."""
    try:
        loader = _StrictLoader(text)  # checks the whole text at once: a NUL or another unprintable character
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlProblem(line, f"not valid YAML: character U+{exc.character:04X} is not allowed") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded, distinct = expanded_size(node)
        if expanded > MAX_EXPANDED_NODES and expanded > distinct:
            raise YamlProblem(None, f"its aliases expand it to more than {MAX_EXPANDED_NODES} nodes "
                                    "(a YAML alias bomb?)")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem(mark.line + 1 if mark is not None else None, f"not valid YAML: {problem}") from None
    except RecursionError:
        raise YamlProblem(None, "not valid YAML: nested too deeply") from None
    finally:
        loader.dispose()
