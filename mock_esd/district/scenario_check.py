"""A scenario checked against its schema in one plain pass; jsonschema words the problems of the records it finds.

Why: jsonschema (`mock_esd_contracts.schema.body_problems`, the careful check) spends some 90 µs on a
recorded student or contact, so 4 s of a 20,000-student scenario's 4.7 s start went to it, and 17 s of
a 100,000-student one's. `contracts/scenario.schema.json` is compiled here, once, into tables of what
each field takes; `problems` runs them over every record (about 2 µs a record), and hands the careful
check only the records that break them, with the scenario's other fields. A sound scenario (every
recorded one) is never walked by jsonschema; a broken one gets the careful check's own problems, the
records' indexes theirs in the whole scenario.

The tables hold what the schema says and nothing else: a keyword they do not know is an error when
they are compiled (so a schema change cannot slip past them), and `tests/properties/test_scenario_check.py`
holds `problems` equal to `body_problems` on generated scenarios, sound and broken one field at a time.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from mock_esd_contracts.schema import FORMATS, Problems, body_problems

# jsonschema's types (with the control API's strict integers: 5.0 is no integer), by the Python types that
# have them; a value of another type (a subclass: a StrEnum member, an IntEnum) is judged by `_has_type`.
_EXACT: dict[str, frozenset[type]] = {
    "string": frozenset({str}), "integer": frozenset({int}), "boolean": frozenset({bool}),
    "null": frozenset({type(None)}), "object": frozenset({dict}), "array": frozenset({list}),
}  # fmt: skip
_DOCUMENTING = frozenset({"$schema", "$id", "title", "description"})
_RECORD_LISTS = ("schools", "students", "contacts", "operooContacts")


def _has_type(value: Any, name: str) -> bool:
    """jsonschema's type check (`mock_esd_contracts.schema._Strict`'s, for integers)."""
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    kinds = {"string": str, "boolean": bool, "object": dict, "array": list}
    return value is None if name == "null" else isinstance(value, kinds[name])


@dataclass
class _Node:
    """One schema of the scenario format, compiled: `ok(value)` is True when jsonschema finds nothing wrong
    with `value` under it, and no string in it is longer than `max_chars` (`max_field_chars`)."""

    max_chars: int
    types: tuple[str, ...] = ()
    exact: frozenset[type] = frozenset()
    enum: frozenset[str] | None = None
    pattern: re.Pattern[str] | None = None
    date: bool = False
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    properties: dict[Any, _Node] = field(default_factory=dict)
    # per property: (its types exactly, its node, a string says only its type, an integer's bounds): inline checks
    fields: dict[Any, tuple[frozenset[type], _Node, bool, float, float]] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    min_properties: int = 0
    items: _Node | None = None
    unique: bool = False
    min_items: int = 0
    depth: int = 1  # the deepest nesting a value that passes can have (as `depth_problem` counts it)

    def ok(self, value: Any) -> bool:
        if self.types and type(value) not in self.exact and not any(_has_type(value, t) for t in self.types):
            return False
        if isinstance(value, str):
            return self._string_ok(value)
        if self.enum is not None:  # an enum of strings: nothing else is one of them
            return False
        if isinstance(value, dict):
            return self._object_ok(value)
        if isinstance(value, list):
            return self._array_ok(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)
        return True

    def _string_ok(self, value: str) -> bool:
        return (
            len(value) <= self.max_chars
            and (self.enum is None or value in self.enum)
            and (self.pattern is None or self.pattern.search(value) is not None)
            and (self.min_length is None or len(value) >= self.min_length)
            and (not self.date or _date_ok(value))
        )

    def _object_ok(self, record: dict[Any, Any]) -> bool:
        max_chars, fields = self.max_chars, self.fields
        for key, value in record.items():
            known = fields.get(key)
            if known is None:
                return False
            exact, node, bare, low, high = known
            kind = type(value)
            if kind not in exact or kind is dict or kind is list:  # another type (a subclass?) or a container
                if not node.ok(value):
                    return False
            elif kind is str:  # inline, the common cases: a name, an id, a date
                if len(value) > max_chars or not (bare or node._string_ok(value)):
                    return False
            elif kind is int and not low <= value <= high:
                return False
        return len(record) >= self.min_properties and self.required <= record.keys()

    def _array_ok(self, values: list[Any]) -> bool:
        if len(values) < self.min_items:
            return False
        if self.unique and not (all(isinstance(v, str) for v in values) and len(set(values)) == len(values)):
            return False  # strings (what this format's unique lists hold) are equal as jsonschema's `uniq` says
        return self.items is None or not self.items.broken(values, stop=True)

    def broken(self, values: list[Any], stop: bool = False) -> list[int]:
        """The indexes of the `values` this schema does not take (`stop`: the first one only)."""
        whole, record = self.ok, self._object_ok
        out = []
        for i, value in enumerate(values):
            if not (record(value) if type(value) is dict and self.fields else whole(value)):
                out.append(i)
                if stop:
                    break
        return out


_dates: dict[str, bool] = {}


def _date_ok(value: str) -> bool:
    """jsonschema's `date` format, remembered: a district's dates of birth repeat."""
    known = _dates.get(value)
    if known is None:
        if len(_dates) > 100_000:
            _dates.clear()
        known = _dates[value] = FORMATS.conforms(value, "date")
    return known


_KNOWN = _DOCUMENTING | {
    "type", "enum", "pattern", "format", "minimum", "maximum", "minLength", "properties",
    "additionalProperties", "required", "minProperties", "items", "uniqueItems", "minItems",
}  # fmt: skip


def _compile(schema: dict[str, Any], max_chars: int) -> _Node:
    """A schema of the subset the scenario format uses, as a `_Node`; ValueError naming what it does not know."""
    unknown = sorted(set(schema) - _KNOWN)
    if unknown or schema.get("additionalProperties", False) is not False or schema.get("format", "date") != "date":
        raise ValueError(f"the scenario check does not know {unknown or schema} of the scenario schema")
    types = schema.get("type", ())
    types = (types,) if isinstance(types, str) else tuple(types)
    enum = schema.get("enum")
    if (enum is None and not types) or (enum is not None and not all(isinstance(e, str) for e in enum)):
        raise ValueError(f"the scenario check needs a type or an enum of strings, not {schema}")
    node = _Node(
        max_chars,
        types=types,
        exact=frozenset().union(*(_EXACT[t] for t in types)),
        enum=frozenset(enum) if enum is not None else None,
        pattern=re.compile(schema["pattern"]) if "pattern" in schema else None,
        date="format" in schema,
        minimum=schema.get("minimum"),
        maximum=schema.get("maximum"),
        min_length=schema.get("minLength"),
        properties={name: _compile(sub, max_chars) for name, sub in schema.get("properties", {}).items()},
        required=frozenset(schema.get("required", ())),
        min_properties=schema.get("minProperties", 0),
        items=_compile(schema["items"], max_chars) if "items" in schema else None,
        unique=bool(schema.get("uniqueItems")),
        min_items=schema.get("minItems", 0),
    )
    node.fields = {name: _inline(sub) for name, sub in node.properties.items()}
    children = [*node.properties.values(), *([node.items] if node.items else [])]
    node.depth = 1 + max((c.depth for c in children), default=0)
    return node


def _inline(node: _Node) -> tuple[frozenset[type], _Node, bool, float, float]:
    """What `_Node._object_ok` checks a property by without a call: its types (an enum's: strings), whether a
    string needs more than its length checked, an integer's bounds."""
    exact = node.exact if node.enum is None else frozenset({str})
    bare = (node.enum, node.pattern, node.min_length, node.date) == (None, None, None, False)
    low = node.minimum if node.minimum is not None else -math.inf
    high = node.maximum if node.maximum is not None else math.inf
    return exact, node, bare, low, high


@functools.lru_cache(maxsize=8)  # one per max_field_chars in use: a server has one, a test suite a few
def _scenario(max_chars: int) -> _Node:
    text = resources.files("mock_esd_contracts").joinpath("scenario.schema.json").read_text(encoding="utf-8")
    return _compile(json.loads(text), max_chars)


@functools.cache
def longest_field_name() -> int:
    """The longest field name the format has (a `max_field_chars` below it is checked carefully)."""

    def names(node: _Node) -> list[int]:
        below = [*node.properties.values(), *([node.items] if node.items else [])]
        return [len(str(n)) for n in node.properties] + [x for c in below for x in names(c)]

    return max(names(_scenario(1)))


def problems(scenario: Any, max_depth: int, limit: int, max_chars: int) -> Problems:
    """What `body_problems("scenario", scenario, max_depth, limit, max_chars)` says, found fast.

    The records (schools, students, contacts, operooContacts) that pass the compiled schema are left out
    of the careful check, which sees the rest of the scenario as it is; the paths of its problems are
    those of the whole scenario. With limits below what a sound scenario reaches (its nesting, its
    field names' length) the whole scenario goes to the careful check.
    """
    if max_chars < longest_field_name() or not isinstance(scenario, dict):
        return body_problems("scenario", scenario, max_depth, limit, max_chars)
    root = _scenario(max_chars)
    if max_depth < root.depth:
        return body_problems("scenario", scenario, max_depth, limit, max_chars)
    pruned: dict[Any, Any] = {}
    indexes: dict[str, list[int]] = {}
    sound = True
    for key, value in scenario.items():
        node = root.properties.get(key)
        if key in _RECORD_LISTS and type(value) is list and node is not None and node.items is not None:
            indexes[key] = node.items.broken(value)
            pruned[key] = [value[i] for i in indexes[key]]
            sound = sound and not indexes[key]
        else:
            pruned[key] = value
            sound = sound and node is not None and node.ok(value)
    if sound and root.required <= scenario.keys():
        return Problems()
    found = body_problems("scenario", pruned, max_depth, limit, max_chars)
    return _renumbered(found, indexes)


def _renumbered(found: Problems, indexes: dict[str, list[int]]) -> Problems:
    """`found` with each record's index in the pruned lists turned back into its index in the scenario."""
    out = Problems()
    for problem in found:
        head, _, rest = problem["path"].partition(".")
        number, dot, tail = rest.partition(".")
        if head in indexes and number.isdigit():
            problem = {**problem, "path": f"{head}.{indexes[head][int(number)]}{dot}{tail}"}
        out.append(problem)
    out.sort(key=lambda p: p["path"])
    out.more = found.more
    return out
