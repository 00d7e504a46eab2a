"""The contract as data: the OpenAPI document and JSON Schema validators for its components."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from referencing import Registry, Resource

from mock_esd_contracts.errors import described, type_name
from mock_esd_contracts.vocabulary import FREE_TEXT_FIELDS, PERSONAL_FIELDS

FORMAT_KEYWORDS = ("enum", "pattern")  # values checked by named checks, not by the structural schema


@cache
def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document (contracts/openapi.json)."""
    return json.loads(resources.files("mock_esd_contracts").joinpath("openapi.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def openapi_bytes() -> bytes:
    return resources.files("mock_esd_contracts").joinpath("openapi.json").read_bytes()


@cache
def validator(component: str, structural: bool = False) -> Draft202012Validator:
    """A validator for `#/components/schemas/<component>`.

    `structural` drops enum and pattern keywords: the verifier's schema check then reports shapes and
    types only, and its vocabulary and format checks report values, so one fault fails one check.
    """
    components = openapi()["components"]
    if structural:
        components = _strip(components)
    return Draft202012Validator({"$ref": f"#/components/schemas/{component}", "components": components})


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in FORMAT_KEYWORDS}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def violations(component: str, instance: Any, structural: bool = False) -> list[str]:
    """Every violation, each as 'field: what is wrong' (`firstName: expected string, got object`).

    A violation names the field and the type of the value, never the value itself (jsonschema's own
    messages quote it): a record's values are a person's, and these lines reach terminals and CI logs.
    """
    out = []
    for error in sorted(validator(component, structural).iter_errors(instance), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            out += [f"{path + '.' if path else ''}{name}: missing" for name in missing]
        else:
            out.append(f"{path or '(record)'}: {_wrong(str(error.validator), error.validator_value, error.instance)}")
    return out


def _wrong(keyword: str, rule: Any, value: Any) -> str:
    """What is wrong with `value` under `keyword`, saying its type and size rather than what it holds."""
    size = described(value)
    number = isinstance(value, int | float) and not isinstance(value, bool)  # counts and ids: no one's data
    messages: dict[str, Any] = {
        "type": lambda: f"expected {' or '.join(rule) if isinstance(rule, list) else rule}, got {type_name(value)}",
        "enum": lambda: f"not one of {', '.join(map(str, rule))} (got {size})",
        "pattern": lambda: f"does not match {rule} (got {size})",
        "format": lambda: f"not a {rule} (got {size})",
        "minimum": lambda: f"expected a number >= {rule}" + (f", got {value}" if number else ""),
        "maximum": lambda: f"expected a number <= {rule}" + (f", got {value}" if number else ""),
        "minLength": lambda: f"expected at least {rule} characters, got {size}",
    }
    return messages[keyword]() if keyword in messages else f"breaks the contract's {keyword!r} (got {size})"


# ----- the control API's bodies (contracts/control.schema.json) and scenario files ------------------------

MAX_DEPTH = 32  # control bodies and scenarios are shallow; deeper input is refused before it is walked (the
# mock's default `max_body_depth`)
_SHOWN = 60  # characters of a refused value an error message repeats


def _strict_integers() -> Any:
    """JSON Schema's `integer` admits 5.0 and 1e300; the control API takes only whole numbers written as such."""
    checker = Draft202012Validator.TYPE_CHECKER
    return checker.redefine("integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))


_Strict = validators.extend(Draft202012Validator, type_checker=_strict_integers())  # type: ignore[no-untyped-call]


@cache
def control_schema() -> dict[str, Any]:
    """`control.schema.json`: the bodies of the mock's control API (`$defs/fault`, `$defs/params`, ...)."""
    text = resources.files("mock_esd_contracts").joinpath("control.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def api_paths() -> list[str]:
    """The paths of the eSD API the contract describes, as OpenAPI writes them: `/v1/students/{enrolledId}`."""
    return list(openapi()["paths"])


@cache
def api_operations() -> dict[str, dict[str, tuple[str, ...]]]:
    """What each path of the contract serves: its methods, each with the query parameters it reads.

    `{"/v1/students": {"GET": ("pageNo", "pageSize", "schoolId", "studentStatus")}, "/v1/auth/token": {"POST": ()}, ...}`
    """
    doc = openapi()

    def named(parameter: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in parameter:
            *_, kind, name = parameter["$ref"].split("/")
            parameter = doc["components"][kind][name]
        return parameter

    return {
        path: {
            method.upper(): tuple(p["name"] for p in map(named, operation.get("parameters", [])) if p["in"] == "query")
            for method, operation in item.items()
            if method in ("get", "put", "post", "delete", "patch", "head", "options")
        }
        for path, item in doc["paths"].items()
    }


@cache
def _registry() -> Registry[Any]:
    resources_ = [
        Resource.from_contents(
            json.loads(resources.files("mock_esd_contracts").joinpath(name).read_text(encoding="utf-8"))
        )
        for name in ("scenario.schema.json", "control.schema.json")
    ]
    return Registry().with_resources((str(r.contents["$id"]), r) for r in resources_)


@cache
def _body_validator(name: str) -> Any:
    base = "scenario.schema.json" if name == "scenario" else f"control.schema.json#/$defs/{name}"
    return _Strict({"$ref": f"https://mock-esd.invalid/{base}"}, registry=_registry(), format_checker=FORMATS)


FORMATS = FormatChecker(["date"])


MAX_PROBLEMS = 100  # problems a check reports at most (the mock's default `max_reported_errors`)


class Problems(list[dict[str, str]]):
    """The problems a check found, at most its limit of them; `more` is True when it stopped with some left.

    The search stops there (jsonschema finds errors lazily): a body of a million bad records costs
    the first few of them, not a list of millions.
    """

    more: bool = False


def body_problems(
    name: str, instance: Any, max_depth: int = MAX_DEPTH, limit: int = MAX_PROBLEMS, max_chars: int | None = None
) -> Problems:
    """How a control body (`fault`, `tenant`, `reset`, `student`, ..., or `scenario`) breaks its schema: at most `limit` ways.

    Each problem is `{"path": "params.ms", "message": "expected an integer <= 60000, got 99999"}`; values
    are cut short, so a problem never repeats megabytes of input. With `max_chars`, a string longer than
    that is a problem too (`max_field_chars`), named by its path and length, never quoted.
    """
    too_deep = depth_problem(instance, max_depth)
    if too_deep:
        return Problems([too_deep])
    unique: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
    found = Problems()
    for keyword, problem in _found(name, instance, max_chars):
        unique.setdefault((problem["path"], problem["message"]), (keyword, problem))
        if len(unique) > limit:
            found.more = True
            break
    # a value of the wrong type (or far too long) breaks its other bounds too: say only that
    for first in ("max_field_chars", "type"):
        named = {p["path"] for keyword, p in unique.values() if keyword == first}
        unique = {k: (keyword, p) for k, (keyword, p) in unique.items() if p["path"] not in named or keyword == first}
    kept = [p for _, p in unique.values()]
    found.extend(sorted(kept, key=lambda p: p["path"])[:limit])
    return found


def _found(name: str, instance: Any, max_chars: int | None) -> Iterator[tuple[str, dict[str, str]]]:
    """(keyword, problem) for each problem, found lazily: the caller stops when it has enough."""
    if max_chars is not None:
        yield from (("max_field_chars", p) for p in _long_strings(instance, max_chars))
    for error in _body_validator(name).iter_errors(instance):
        for leaf in _leaves(error):
            for problem in _described(leaf):
                yield str(leaf.validator), problem


def _long_strings(instance: Any, limit: int) -> Iterator[dict[str, str]]:
    """A problem for each string (a value or a field's name) longer than `limit` characters, walked without recursion."""

    def too_long(where: tuple[Any, ...], what: str) -> dict[str, str]:
        return {"path": _path(where) or "(body)", "message": f"{what} longer than the limit max_field_chars={limit}"}

    if isinstance(instance, str) and len(instance) > limit:
        yield too_long((), f"a string of {len(instance)} characters,")
    stack: list[tuple[tuple[Any, ...], Iterator[tuple[Any, Any]]]] = [((), _pairs(instance))]
    while stack:
        where, pairs = stack[-1]
        pair = next(pairs, None)
        if pair is None:
            stack.pop()
            continue
        key, value = pair
        if isinstance(key, str) and len(key) > limit:
            yield too_long(where, f"a field name of {len(key)} characters,")
        if isinstance(value, str) and len(value) > limit:
            yield too_long((*where, key), f"a string of {len(value)} characters,")
        elif isinstance(value, dict | list):
            stack.append(((*where, key), _pairs(value)))


def _pairs(node: Any) -> Iterator[tuple[Any, Any]]:
    """(field or index, value) of a container's members; none for anything else."""
    if isinstance(node, dict):
        return iter(node.items())
    if isinstance(node, list):
        return enumerate(node)
    return iter(())


class _Object(dict[str, Any]):
    """A JSON object as `duplicate_keys` parses it: `twice` names the keys given more than once."""

    twice: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    parsed = _Object(pairs)
    if len(parsed) < len(pairs):
        parsed.twice = tuple(key for key, count in Counter(k for k, _ in pairs).items() if count > 1)
    return parsed


def _any_twice(text: str | bytes) -> bool:
    """Whether any object of the JSON `text` gives a key twice: a parse that keeps no object (each becomes None)."""
    seen = False

    def keys_once(pairs: list[tuple[str, Any]]) -> None:
        nonlocal seen
        if not seen and len({key for key, _ in pairs}) < len(pairs):
            seen = True

    json.loads(text, object_pairs_hook=keys_once)
    return seen


def duplicate_keys(text: str | bytes, limit: int = MAX_PROBLEMS) -> Problems:
    """A problem for each key given twice in one object of the JSON `text` (`{"kind": 1, "kind": 2}`), at most `limit`.

    JSON parsers keep the last of them silently, so the first one's meaning would be lost without a word.
    Call it on text already parsed within the depth limit (`depth_problem`): Python's parser recurses.
    """
    try:
        if not _any_twice(text):  # the common case, found without keeping one object: 1,000,000 x {} stays small
            return Problems()
        parsed = json.loads(text, object_pairs_hook=_object)
    except RecursionError:
        return Problems(
            [
                {
                    "path": "(body)",
                    "message": "nested too deep to check for a key given twice (Python's JSON parser stops near 1,000 levels)",
                }
            ]
        )
    except ValueError:  # not JSON: the caller's parser says so
        return Problems()
    found = Problems()
    stack: list[tuple[tuple[Any, ...], Any]] = [((), parsed)]
    while stack:
        where, node = stack.pop()
        for key in getattr(node, "twice", ()):
            found.append(
                {
                    "path": _path((*where, key)),
                    "message": "given more than once in one object (a parser would keep only the last): give it once",
                }
            )
        stack.extend(((*where, k), v) for k, v in reversed(list(_pairs(node))) if isinstance(v, dict | list))
        if len(found) > limit:
            found.more = True
            del found[limit:]
            break
    return found


def depth_problem(instance: Any, limit: int = MAX_DEPTH) -> dict[str, str] | None:
    """A problem when `instance` nests deeper than `limit` (checked without recursion, one level's members at a time)."""
    stack: list[Iterator[Any]] = [iter((instance,))]
    while stack:
        node = next(stack[-1], _END)
        if node is _END:
            stack.pop()
        elif len(stack) > limit:
            return {"path": "(body)", "message": f"nested deeper than the limit max_body_depth={limit}"}
        elif isinstance(node, dict):
            stack.append(iter(node.values()))
        elif isinstance(node, list):
            stack.append(iter(node))
    return None


_END = object()


def shown(value: Any) -> str:
    """A value as an error message repeats it: its JSON-ish repr, cut to a few dozen characters."""
    text = json.dumps(value, default=str) if not isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\[\]-]{1,60}")  # what a field's name looks like; anything else is described


def _path(parts: Any) -> str:
    """Where a problem is: `students.0.address`. A part that is no field's name (a line of a file given by
    mistake, `root:$6$...`: the text of an input, not its shape) is described by its length, never quoted."""
    return ".".join(
        str(p) if isinstance(p, int) or _FIELD_NAME.fullmatch(str(p)) else f"(a name of {len(str(p))} characters)"
        for p in parts
    )


def _leaves(error: ValidationError) -> list[ValidationError]:
    if error.validator in ("allOf", "anyOf", "oneOf", "$ref") and error.context:
        return [leaf for sub in error.context for leaf in _leaves(sub)]
    return [error]


def _described(error: ValidationError) -> Iterable[dict[str, str]]:
    path = _path(error.absolute_path) or "(body)"
    value: Any = error.instance
    rule: Any = error.validator_value
    schema: Any = error.schema
    if error.validator == "additionalProperties":
        known = schema.get("properties", {})
        allowed = ", ".join(sorted(known)) or "none"
        extra = sorted(set(value) - set(known))
        prefix = f"{path}." if path != "(body)" else ""
        return ({"path": prefix + _path([k]), "message": f"unknown field; allowed: {allowed}"} for k in extra)
    if error.validator == "required":
        prefix = f"{path}." if path != "(body)" else ""
        missing = [k for k in rule if k not in value]
        return [{"path": prefix + k, "message": "required"} for k in missing]
    if "propertyNames" in error.absolute_schema_path:  # the instance is a field's name, the path its object's
        return [{"path": path, "message": f"a field's name: {_expected(str(error.validator), rule, value, '(name)')}"}]
    field = str(error.absolute_path[-1]) if error.absolute_path else ""
    return [{"path": path, "message": _expected(str(error.validator), rule, value, field)}]


def _expected(keyword: str, rule: Any, value: Any, field: str = "") -> str:
    """What `keyword` wants and what it got: the value itself only when it cannot be a person's (nor a field's name)."""
    personal = field in PERSONAL_FIELDS or field in FREE_TEXT_FIELDS or field == "(name)"
    got = f"got {type_name(value)}" if personal else f"got {shown(value)}"
    size = f"got {len(value)}" if isinstance(value, str | list | dict) else got
    expected: Any = {
        "type": lambda: f"expected {_type_words(rule)}, {got}",
        "minimum": lambda: f"expected a number >= {rule}, {got}",
        "maximum": lambda: f"expected a number <= {rule}, {got}",
        "exclusiveMinimum": lambda: f"expected a number > {rule}, {got}",
        "exclusiveMaximum": lambda: f"expected a number < {rule}, {got}",
        "enum": lambda: f"expected one of {', '.join(shown(x) for x in rule)}, {got}",
        "const": lambda: f"expected {shown(rule)}, {got}",
        "pattern": lambda: f"expected text matching {rule}, {got}",
        "minLength": lambda: f"expected at least {rule} characters, {size}",
        "maxLength": lambda: f"expected at most {rule} characters, {size}",
        "minProperties": lambda: f"expected at least {rule} fields, {size}",
        "maxProperties": lambda: f"expected at most {rule} fields, {size}",
        "minItems": lambda: f"expected at least {rule} items, {size}",
        "maxItems": lambda: f"expected at most {rule} items, {size}",
        "uniqueItems": lambda: "expected every item once, got one twice",
        "format": lambda: (
            ("expected a real date, YYYY-MM-DD" if rule == "date" else f"expected format {rule}") + f", {got}"
        ),
        "not": lambda: "these fields cannot be given together",
    }.get(keyword)
    if expected:
        return str(expected())
    # any other keyword: named with its bound, and the value described by its type, never repeated
    return f"breaks the schema's {keyword} {shown(rule)}, got {described(value)}"


def _type_words(rule: Any) -> str:
    names: dict[str, str] = {"integer": "an integer", "number": "a number", "string": "a string", "object": "an object",
             "array": "an array", "boolean": "true or false", "null": "null"}  # fmt: skip
    return " or ".join(names.get(str(t), str(t)) for t in (rule if isinstance(rule, list) else [rule]))
