"""YAML (and so JSON) parsing with a bound on nesting and on the size aliases expand to.

A 429-byte document of nested aliases ("billion laughs") expands to 10^8 leaves: PyYAML builds it
as shared objects in no time, but everything after (copying dates to text, validating, logging the
change) walks every leaf. Aliases stay allowed (a scenario may share a contact's fields); the size the
document *means*, aliases expanded, is counted from the node graph before anything is built.

The nodes written are counted too, as they are composed: PyYAML holds some 700 bytes per node, so
a document is refused at `max_yaml_nodes` before its graph outgrows memory, not after.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from mock_esd.errors import BadRequest
from mock_esd.limits import DEFAULT_LIMITS, Limits


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested deeper than `max_depth` while composing them."""

    max_depth = DEFAULT_LIMITS.max_body_depth
    max_nodes = DEFAULT_LIMITS.max_yaml_nodes
    source = "the document"
    _depth = 0
    _composed = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        # The composer recurses per level: refuse before Python's recursion limit is reached.
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise BadRequest(f"{self.source} is nested deeper than the limit max_body_depth={self.max_depth}")
            if not self.check_event(AliasEvent):  # an alias is a node already composed (its expansion: below)
                self._composed += 1
                if self._composed > self.max_nodes:
                    raise BadRequest(f"{self.source} has more nodes than the limit max_yaml_nodes={self.max_nodes}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load(text: str, source: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The data of one YAML or JSON document; BadRequest naming the limit when it is too deep or too big."""
    loader = _BoundedLoader(text)
    loader.max_depth, loader.max_nodes, loader.source = limits.max_body_depth, limits.max_yaml_nodes, source
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded(node, limits, source)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expanded(root: Node, limits: Limits, source: str) -> None:
    """Count nodes and depth with aliases expanded, each shared node measured once (memoised)."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, depth)
    in_progress: set[int] = set()

    def measure(node: Node, level: int) -> tuple[int, int]:
        if level > limits.max_body_depth:  # checked on the way down: the recursion stays within the limit
            raise BadRequest(
                f"{source} is nested (aliases followed) deeper than max_body_depth={limits.max_body_depth}"
            )
        key = id(node)
        if key in measured:
            count, depth = measured[key]
            if level + depth - 1 > limits.max_body_depth:
                raise BadRequest(
                    f"{source} is nested (aliases followed) deeper than max_body_depth={limits.max_body_depth}"
                )
            return measured[key]
        if key in in_progress:
            raise BadRequest(f"{source}: an alias refers to a node that contains it (a recursive document)")
        in_progress.add(key)
        count, depth = 1, 0
        for child in _children(node):
            child_count, child_depth = measure(child, level + 1)
            count, depth = count + child_count, max(depth, child_depth)
            if count > limits.max_yaml_nodes:
                raise BadRequest(
                    f"{source} expands (aliases followed) to more than the limit max_yaml_nodes={limits.max_yaml_nodes}"
                )
        in_progress.discard(key)
        measured[key] = (count, depth + 1)
        return measured[key]

    measure(root, 1)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []
