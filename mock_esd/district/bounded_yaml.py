"""YAML (and so JSON) read straight into plain data from libyaml's events, bounded in nodes and nesting.

Why events: PyYAML's loader first composes a graph of nodes (some 700 bytes each) and then constructs the
data from it in Python: 17 s and 600 MB for a recorded 20,000-student scenario. Here the data is built from
the parser's events as they come (libyaml's parser, PyYAML's own when PyYAML has no libyaml), each scalar
resolved and constructed by PyYAML's SafeLoader itself, so a document means what `yaml.safe_load` makes of
it (dates as their ISO text, as a scenario keeps them): a fifth of the time, and memory for the data alone.

Bounds, counted as the events are read, before anything more is built:
- nodes as written (`max_yaml_nodes`): scalars, mappings and sequences;
- nodes with aliases expanded (`max_yaml_nodes` too): a 429-byte "billion laughs" means 10^8 leaves.
  Aliases stay allowed (a scenario may share a contact's fields) and their data is shared, not copied,
  but everything after (validating, logging the change) walks every leaf;
- nesting, as written and with aliases followed (`max_body_depth`); an alias to a node that contains it.

Merge keys (`<<: *defaults`) merge as the YAML spec says: the mapping's own keys first, then the merged
mappings in order, the earlier one winning a key two of them give. (PyYAML 6.0.3's own loader lets the later
one win, unless the key is a single character.) Sets, ordered maps and pairs (`!!set`, `!!omap`, `!!pairs`)
are refused by name: a scenario holds mappings, lists and plain values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import GeneratorType
from typing import Any, Final

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from mock_esd.errors import BadRequest
from mock_esd.limits import DEFAULT_LIMITS, Limits

# libyaml's parser (in every PyYAML wheel) reads some six times as fast as PyYAML's pure-Python one
_Loader: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Mark = Any  # where a node starts: libyaml's marks and PyYAML's are two types of one shape
_TAG: Final = "tag:yaml.org,2002:"
STR, MERGE, VALUE = f"{_TAG}str", f"{_TAG}merge", f"{_TAG}value"
_COLLECTIONS: Final = {f"{_TAG}map": MappingNode, f"{_TAG}seq": SequenceNode}
_REFUSED: Final = {f"{_TAG}set": "!!set", f"{_TAG}omap": "!!omap", f"{_TAG}pairs": "!!pairs"}
_MERGING: Final = object()  # a `<<` key: what follows it is merged into its mapping
_STRING: Final = object()  # a plain scalar resolved as a string (a name starting as a number or `null` might)
_PLAIN_KEPT: Final = 100_000  # plain scalars whose data is remembered (names, numbers repeat), per document


@dataclass
class _Open:
    """A mapping or sequence being read: its data so far, and what its bounds need."""

    mapping: bool
    anchor: str | None
    mark: Mark
    level: int  # its nesting (the document's node is at 1)
    expanded: int  # nodes counted (aliases expanded) when it started
    deepest: int  # the deepest level reached in it, aliases followed
    items: list[Any] = field(default_factory=list)  # a sequence's items; a mapping's keys and values in turn
    merged: list[tuple[Any, Mark]] = field(default_factory=list)  # a mapping's `<<` values, in order


class _Reader:
    """One document's events into data, within `limits`; errors name `source`."""

    def __init__(self, loader: Any, source: str, limits: Limits) -> None:
        self.loader, self.source = loader, source
        self.max_nodes, self.max_depth = limits.max_yaml_nodes, limits.max_body_depth
        self.written = self.expanded = 0
        self.anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (data, nodes expanded, depth)
        self.open_anchors: set[str] = set()
        self.plain: dict[str, Any] = {}  # a plain scalar's text -> its data (`_STRING`: the text), resolved once
        resolvers = loader.yaml_implicit_resolvers
        self.resolved_first = None if None in resolvers else frozenset(resolvers)  # first characters resolved

    def document(self) -> Any:
        """The data of the stream's one document (None: no document)."""
        get = self.loader.get_event
        get()  # the stream's start
        start = get()
        if isinstance(start, StreamEndEvent):
            return None
        data = self._node()
        get()  # the document's end
        after = get()
        if not isinstance(after, StreamEndEvent):
            raise ComposerError(
                "expected a single document in the stream", start.start_mark, "but found another document",
                after.start_mark,
            )  # fmt: skip
        return data

    def _node(self) -> Any:
        """Read one node (the document's) event by event: the nesting is a list, never Python's stack."""
        get, stack, first, plain = self.loader.get_event, list[_Open](), self.resolved_first, self.plain
        top: _Open | None = None
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                value = event.value
                if (  # the common case inline: a string (quoted, plain and starting as no other type does, or known)
                    top is not None
                    and event.tag is None
                    and event.anchor is None
                    and (
                        not event.implicit[0]
                        or (first is not None and value and value[0] not in first)
                        or plain.get(value) is _STRING
                    )
                ):
                    self.written += 1
                    self.expanded += 1
                    if self.expanded > self.max_nodes or len(stack) >= self.max_depth:
                        self._refuse(len(stack) + 1)
                    items = top.items
                    if items and items[-1] is _MERGING:
                        self._add(top, value, event.start_mark, 1)
                    else:
                        items.append(value)
                    continue
                value, depth, mark = self._scalar_node(event, top, len(stack) + 1), 1, event.start_mark
            elif kind is AliasEvent:
                value, depth = self._alias(event, len(stack) + 1)
                mark = event.start_mark
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                top = self._open(event, kind is MappingStartEvent, len(stack) + 1)
                stack.append(top)
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                done = stack.pop()
                top = stack[-1] if stack else None
                value, depth, mark = self._close(done), self._depth(done), done.mark
                if done.anchor is not None:
                    self.open_anchors.discard(done.anchor)
                    self.anchors[done.anchor] = (value, self.expanded - done.expanded, depth)
            else:  # pragma: no cover - the parser gives no other event inside a document
                raise ComposerError(None, None, f"unexpected {kind.__name__}", event.start_mark)
            if top is None:
                return _value(value, mark)
            self._add(top, value, mark, depth)

    def _scalar_node(self, event: Any, parent: _Open | None, level: int) -> Any:
        """A scalar that may be other than a string, or anchored: counted, constructed, remembered."""
        self._count(level, 1)
        in_key = parent is not None and parent.mapping and len(parent.items) % 2 == 0
        value = self._scalar(event, in_key)
        if event.anchor is not None:
            self._check_anchor(event)
            self.anchors[event.anchor] = (value, 1, 1)
        return value

    def _open(self, event: Any, mapping: bool, level: int) -> _Open:
        """A collection starts: counted, its tag checked, its anchor open until it ends."""
        self._count(level, 1)
        self._collection_tag(event, MappingNode if mapping else SequenceNode)
        if event.anchor is not None:
            self._check_anchor(event)
            self.open_anchors.add(event.anchor)
        return _Open(mapping, event.anchor, event.start_mark, level, self.expanded - 1, level)

    @staticmethod
    def _depth(done: _Open) -> int:
        """How deep a finished collection nests, its own level counted as 1 (strings inline left no trace)."""
        return max(done.deepest, done.level + 1 if done.items or done.merged else done.level) - done.level + 1

    # ----- the bounds -----------------------------------------------------------------------------------------

    def _count(self, level: int, expanded: int) -> None:
        """One node written at `level`, meaning `expanded` nodes: refused past the limits."""
        self.written += 1
        self.expanded += expanded
        if self.expanded > self.max_nodes or level > self.max_depth:
            self._refuse(level)

    def _refuse(self, level: int) -> None:
        """BadRequest naming the limit a node at `level` went past (the nodes counted so far)."""
        if level > self.max_depth:
            raise BadRequest(f"{self.source} is nested deeper than the limit max_body_depth={self.max_depth}")
        if self.written > self.max_nodes:
            raise BadRequest(f"{self.source} has more nodes than the limit max_yaml_nodes={self.max_nodes}")
        raise BadRequest(
            f"{self.source} expands (aliases followed) to more than the limit max_yaml_nodes={self.max_nodes}"
        )

    def _alias(self, event: Any, level: int) -> tuple[Any, int]:
        """The data an alias repeats, its nodes counted again and its depth from where it stands."""
        if level > self.max_depth:
            raise BadRequest(f"{self.source} is nested deeper than the limit max_body_depth={self.max_depth}")
        name = event.anchor
        if name in self.open_anchors:
            raise BadRequest(f"{self.source}: an alias refers to a node that contains it (a recursive document)")
        if name not in self.anchors:
            raise ComposerError(None, None, f"found undefined alias {name!r}", event.start_mark)
        value, nodes, depth = self.anchors[name]
        if level + depth - 1 > self.max_depth:
            raise BadRequest(f"{self.source} is nested (aliases followed) deeper than max_body_depth={self.max_depth}")
        self.expanded += nodes
        if self.expanded > self.max_nodes:
            self._refuse(level)
        return value, depth

    def _check_anchor(self, event: Any) -> None:
        name = getattr(event, "anchor", None)
        if name in self.anchors or name in self.open_anchors:
            raise ComposerError(None, None, f"found duplicate anchor {name!r}", event.start_mark)

    # ----- the data ---------------------------------------------------------------------------------------

    def _scalar(self, event: Any, in_key: bool) -> Any:
        """What SafeLoader constructs of a scalar (a date stays a date here; `_text` makes values text)."""
        tag, value = event.tag, event.value
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return value  # quoted: a string
            first = self.resolved_first
            if first is not None and value and value[0] not in first:
                return value  # a name, an address: no implicit type starts with its first character
            known = self.plain.get(value, self)
            if known is not self:
                return value if known is _STRING else known
            tag = self.loader.resolve(ScalarNode, value, event.implicit)
            if tag in (MERGE, VALUE):
                return self._special(tag, event, in_key)
            data = value if tag == STR else self._construct(tag, event)
            if len(self.plain) < _PLAIN_KEPT:
                self.plain[value] = _STRING if tag == STR else data
            return data
        if tag == STR:
            return value
        if tag in (MERGE, VALUE):
            return self._special(tag, event, in_key)
        return self._construct(tag, event)

    def _special(self, tag: str, event: Any, in_key: bool) -> Any:
        """A `<<` key merges what follows it; a `=` key is the string "="; elsewhere SafeLoader refuses them."""
        if not in_key:
            return self._construct(tag, event)
        return _MERGING if tag == MERGE else event.value

    def _construct(self, tag: str, event: Any) -> Any:
        """SafeLoader's constructor for `tag` on this scalar (its own errors, unknown tags included)."""
        constructors = self.loader.yaml_constructors
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        data = constructors.get(tag, constructors[None])(self.loader, node)
        if isinstance(data, GeneratorType):  # a collection's tag on a scalar: its constructor says what is wrong
            for _ in data:
                pass
        return data

    def _collection_tag(self, event: Any, kind: type) -> bool:
        """True for a mapping: a collection with its own tag or none; any other tag is an error naming it."""
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        found = _COLLECTIONS.get(tag)
        if found is kind:
            return kind is MappingNode
        if tag in _REFUSED:
            raise ConstructorError(
                None, None, f"{_REFUSED[tag]} is not taken: a scenario holds mappings, lists and plain values",
                event.start_mark,
            )  # fmt: skip
        if found is not None:
            expected, got = ("mapping", "sequence") if found is MappingNode else ("sequence", "mapping")
            raise ConstructorError(None, None, f"expected a {expected} node, but found {got}", event.start_mark)
        raise ConstructorError(None, None, f"could not determine a constructor for the tag {tag!r}", event.start_mark)

    def _add(self, parent: _Open, value: Any, mark: Mark, depth: int) -> None:
        """Put a finished node (starting at `mark`) into the collection it is in."""
        parent.deepest = max(parent.deepest, parent.level + depth)
        items = parent.items
        if not parent.mapping:
            items.append(_value(value, mark))
        elif len(items) % 2 == 0:  # a key
            if isinstance(value, dict | list):
                raise ConstructorError("while constructing a mapping", parent.mark, "found unhashable key", mark)
            items.append(value)
        elif items[-1] is _MERGING:
            items.pop()
            parent.merged.append((value, mark))
        else:
            items.append(_value(value, mark))

    def _close(self, done: _Open) -> Any:
        """A finished collection's data: a list, or a dict with its merged mappings under its own keys."""
        items = done.items
        if not done.mapping:
            return items
        own = dict(zip(items[::2], items[1::2], strict=True))
        if not done.merged:
            return own
        merged: dict[Any, Any] = {}
        for value, mark in done.merged:
            for source in value if isinstance(value, list) else [value]:
                if not isinstance(source, dict):
                    raise ConstructorError(
                        "while constructing a mapping", done.mark,
                        f"expected a mapping or list of mappings for merging, but found {_kind(source)}", mark,
                    )  # fmt: skip
                for key, item in source.items():
                    merged.setdefault(key, item)
        merged.update(own)
        return merged


def _kind(value: Any) -> str:
    return "sequence" if isinstance(value, list) else "mapping" if isinstance(value, dict) else "scalar"


def _value(value: Any, mark: Mark) -> Any:
    """A node's data as a value: a date or timestamp as its ISO text (a scenario keeps dates as the text JSON
    has), anything else as it is; a `<<` is a key only (SafeLoader's error elsewhere)."""
    if value is _MERGING:
        raise ConstructorError(None, None, f"could not determine a constructor for the tag {MERGE!r}", mark)
    return value.isoformat() if isinstance(value, dt.date) else value


def load(text: str, source: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """The data of one YAML or JSON document; BadRequest naming the limit when it is too deep or too big,
    yaml.YAMLError (with its line and column) when it is no YAML, ValueError for a date that is none."""
    loader = _Loader(text)
    try:
        return _Reader(loader, source, limits).document()
    finally:
        loader.dispose()
