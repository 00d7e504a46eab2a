"""reference/control-api.md, written at build time from contracts/control.schema.json (and the scenario
schema it refers to), so the page says what the mock checks and cannot drift from it.

The page holds one marker, `<!-- control-schema -->`, which becomes a section per body of `$defs` (its
fields, types, bounds, descriptions, which are required) and a table of what each fault kind takes
(`$defs/params`). A marker missing, or a schema keyword this renderer does not know, fails the build:
a page that silently left something out would be worse than none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from referencing import Registry, Resource

PAGE = "reference/control-api.md"
MARKER = "<!-- control-schema -->"
SCHEMAS = ("contracts/control.schema.json", "contracts/scenario.schema.json")
CONTROL_ID = "https://mock-esd.invalid/control.schema.json"

# What a field may say about itself, and how the page words it. Anything else fails the build.
_BOUNDS = {
    "minimum": "≥ {}", "maximum": "≤ {}", "minLength": "length ≥ {}", "maxLength": "length ≤ {}",
    "pattern": "matches `{}`", "format": "a {}", "minItems": "items ≥ {}", "maxItems": "items ≤ {}",
    "maxProperties": "entries ≤ {}", "minProperties": "entries ≥ {}",
}  # fmt: skip
_NAMED = {2**53 - 1: "2^53 - 1"}  # JSON's largest exact integer, as docs/qa/scenarios.md writes it
_SHOWN_ELSEWHERE = {"type", "enum", "const", "description", "properties", "additionalProperties", "required", "items",
                    "$ref", "uniqueItems", "propertyNames", "allOf", "dependentSchemas", "title", "$defs"}  # fmt: skip


class SchemaPage:
    """Renders the control schema's bodies as Markdown, resolving `$ref`s against both schema files."""

    def __init__(self, root: Path) -> None:
        documents = [json.loads((root / name).read_text(encoding="utf-8")) for name in SCHEMAS]
        self.control, self.scenario = documents
        self.registry: Registry[Any] = Registry().with_resources(
            (doc["$id"], Resource.from_contents(doc)) for doc in documents
        )

    def markdown(self) -> str:
        """The whole generated part of the page: every body of `$defs`, then the fault kinds' params."""
        defs = self.control["$defs"]
        parts = [f"{self.control['description']}\n"]
        parts += [self.body(name, schema) for name, schema in defs.items() if name != "params"]
        parts.append(self.params(defs["params"]))
        return "\n".join(parts)

    def resolve(self, schema: dict[str, Any], base: str = CONTROL_ID) -> dict[str, Any]:
        """`schema` with its `$ref` followed (its own description wins over the target's)."""
        if "$ref" not in schema:
            return schema
        target = self.registry.resolver(base).lookup(schema["$ref"]).contents
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}

    def body(self, name: str, schema: dict[str, Any]) -> str:
        """One `$defs` body: its heading (anchored by its name), what it is for, and a row per field."""
        resolved = self.resolve(schema)
        lines = [f"## `{name}` {{#{name}}}", "", resolved.get("description", ""), ""]
        if resolved.get("additionalProperties") is False:
            lines += ["An unknown field is refused (400, naming it).", ""]
        rows = list(self.rows(resolved))
        if rows:
            lines += ["| field | type | required | bounds | description |", "|---|---|---|---|---|", *rows, ""]
        else:
            lines += ["No fields: an empty object `{}`, or no body at all.", ""]
        lines += self.rules(resolved)
        return "\n".join(lines)

    def rows(self, schema: dict[str, Any], prefix: str = "") -> list[str]:
        """A table row per field, an object's fields inside arrays too (`students[].priority`)."""
        out = []
        required = set(schema.get("required", ()))
        for field, raw in schema.get("properties", {}).items():
            spec = self.resolve(raw)
            item = self.resolve(spec.get("items", {}))
            if raw.get("$ref", "").endswith(".json"):  # a whole other document, such as a scenario: named, not copied
                kind = f"a whole {spec['title']} (`{Path(SCHEMAS[1]).name}`)"
                spec = {k: v for k, v in raw.items() if k != "$ref"}
            else:
                self.check_keywords(f"{prefix}{field}", spec)
                kind = self.type_of(spec)
            bounds = _bounds(spec)
            if spec.get("uniqueItems"):
                bounds = "; ".join(filter(None, [bounds, "no item twice"]))
            description = " ".join(spec.get("description", "").split())
            mark = "yes" if field in required else ""
            out.append(f"| `{prefix}{field}` | {kind} | {mark} | {bounds} | {_cell(description)} |")
            if item.get("type") == "object":
                out += self.rows(item, f"{prefix}{field}[].")
        return out

    def type_of(self, spec: dict[str, Any]) -> str:
        """A field's type in words: `string or null`, one of the enum's values, `array of integer`."""
        if "enum" in spec:
            return "one of " + ", ".join("`null`" if v is None else f"`{v}`" for v in spec["enum"])
        if "const" in spec:
            return f"`{spec['const']}`"
        types = spec.get("type", "any")
        words = " or ".join(types) if isinstance(types, list) else types
        if words == "array":
            return f"array of {self.type_of(self.resolve(spec.get('items', {})))}"
        if words == "object" and isinstance(spec.get("additionalProperties"), dict):
            return f"object of {self.type_of(spec['additionalProperties'])}"
        return str(words)

    def rules(self, schema: dict[str, Any]) -> list[str]:
        """What the body requires beyond its fields: fields that exclude others, params by kind."""
        lines = []
        for field, rule in schema.get("dependentSchemas", {}).items():
            excluded = [sub["required"][0] for sub in rule.get("not", {}).get("anyOf", [])]
            if not excluded or len(rule) != 1:
                raise ValueError(f"{PAGE}: dependentSchemas.{field} says more than 'excludes': {rule}")
            lines += [f"With `{field}`, none of {', '.join(f'`{x}`' for x in excluded)} may be given.", ""]
        if schema.get("allOf"):
            kinds = [branch["if"]["properties"]["kind"]["const"] for branch in schema["allOf"]]
            lines += [f"`params` is checked by `kind` ({', '.join(kinds)}): [what each kind takes](#params).", ""]
        return lines

    def params(self, schema: dict[str, Any]) -> str:
        """`$defs/params`: a row per fault kind and parameter, bounds and default as the schema says."""
        lines = ["## Fault kinds: `params` {#params}", "", "What `params` of a fault rule takes, by `kind`.", ""]
        lines += ["| kind | param | type | bounds | description |", "|---|---|---|---|---|"]
        for kind, body in schema["$defs"].items():
            fields = body.get("properties", {})
            if not fields:
                lines.append(f"| `{kind}` | none | | | |")
            for field, spec in fields.items():
                self.check_keywords(f"params.{kind}.{field}", spec)
                description = _cell(spec.get("description", ""))
                lines.append(f"| `{kind}` | `{field}` | {self.type_of(spec)} | {_bounds(spec)} | {description} |")
        return "\n".join([*lines, ""])

    @staticmethod
    def check_keywords(where: str, spec: dict[str, Any]) -> None:
        unknown = set(spec) - _SHOWN_ELSEWHERE - set(_BOUNDS)
        if unknown:
            raise ValueError(f"{PAGE}: {where} uses {', '.join(sorted(unknown))}, which the page does not show yet")


def _bounds(spec: dict[str, Any]) -> str:
    """A field's bounds in a few words: `≥ 0; ≤ 2^53 - 1`, `matches ^[0-9]{8}$`."""
    said = [_BOUNDS[k].format(_NAMED.get(v, v)) for k, v in spec.items() if k in _BOUNDS]
    return _cell("; ".join(said))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the control API page's marker with the bodies of contracts/control.schema.json."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} has lost its marker {MARKER}: nowhere to put the control API's bodies")
    root = Path(config["config_file_path"]).resolve().parent
    return markdown.replace(MARKER, SchemaPage(root).markdown())
