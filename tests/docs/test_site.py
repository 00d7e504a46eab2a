"""The built documentation site: it fetches nothing from another host, and its reference says what the code says.

The reference pages are generated (mkdocstrings, mkdocs-click, docs/hooks/control_schema.py); these tests hold
them to the code itself, so a public method without a docstring (mkdocstrings leaves it out), a command missing
from the CLI page or a control body missing from its page fails here, not in a reader's hands.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import click
import pytest
from referencing import Registry, Resource

from mock_esd_workbench.cli import main
from mock_esd_workbench.commands import COMMANDS
from tests.layout import ROOT

# The Python reference documents each of these (the list), under the name users import it by: the
# control client, the district object, the fixtures, the strategies, the sync's client and run, the verifier.
DOCUMENTED = [
    "mock_esd.mock_district", "mock_esd.EsdDistrict", "mock_esd.Districts",
    "mock_esd.pytest_plugin.esd_server", "mock_esd.pytest_plugin.esd_inprocess", "mock_esd.pytest_plugin.esd_districts",
    "mock_esd.ControlClient", "mock_esd.ControlError", "mock_esd.qa.client.Credentials",
    "mock_esd.strategies", "mock_esd_sync.strategies",
    "mock_esd_sync.EsdClient", "mock_esd_sync.RetryPolicy", "mock_esd_sync.run_sync", "mock_esd_sync.Report",
    "mock_esd_contracts.verify", "mock_esd_contracts.Result", "mock_esd_contracts.Target",
    "mock_esd_contracts.Connection",
]  # fmt: skip
# ... and every name these export (`__all__`), each at least by its own heading.
EXPORTING = ["mock_esd", "mock_esd_sync", "mock_esd_contracts"]

# What a built page may reference on another host: only a link a reader follows (`<a href>`, and the
# `canonical` and `alternate` links, which a browser does not fetch). Anything a browser loads by itself
# (a script, a stylesheet, a font, an image, a frame, a CSS url() or @import) is a file of the site.
FOLLOWED_ONLY = {("a", "href"), ("link", "canonical"), ("link", "alternate")}
LOADED = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background"}
ELSEWHERE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # a scheme, or a host without one
LOCAL_SCHEMES = ("data:", "blob:", "#", "about:", "javascript:")
CSS_FETCH = re.compile(r"""(?:url\(\s*|@import\s+)["']?\s*([^"')\s;]+)""", re.IGNORECASE)


class _Page(HTMLParser):
    """Each element's reference to another file, and its inline styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[tuple[str, str, str]] = []  # (tag, attribute or rel, value)
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name in LOADED:
                kind = values.get("rel", name) if tag == "link" and name == "href" else name
                self.references.append((tag, kind, value))
        if "style" in values:
            self.styles.append(values["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _fetched_elsewhere(value: str) -> bool:
    value = value.strip()
    return bool(ELSEWHERE.match(value)) and not value.lower().startswith(LOCAL_SCHEMES)


def _css_elsewhere(text: str) -> list[str]:
    """What a stylesheet (or a script's CSS) loads from another host: its url() and @import targets."""
    return [target for target in CSS_FETCH.findall(text) if _fetched_elsewhere(target)]


def _html_elsewhere(text: str) -> list[str]:
    """What a browser showing this HTML would load from another host by itself (a followed link is not loaded)."""
    parsed = _Page()
    parsed.feed(text)
    found = []
    for tag, kind, value in parsed.references:
        values = [v.split()[0] for v in value.split(",") if v.strip()] if kind == "srcset" else [value]
        if (tag, kind) not in FOLLOWED_ONLY:
            found += [f"<{tag} {kind}={v!r}>" for v in values if _fetched_elsewhere(v)]
    return found + [f"style url {target!r}" for style in parsed.styles for target in _css_elsewhere(style)]


def _built(site: Path, *suffixes: str) -> list[Path]:
    return sorted(p for p in site.rglob("*") if p.suffix in suffixes)


def test_no_built_page_loads_anything_from_another_host(site: Path) -> None:
    pages = _built(site, ".html")
    assert len(pages) >= 14, f"the site built only {[p.name for p in pages]}"
    found = [f"{html.relative_to(site)}: {ref}" for html in pages for ref in _html_elsewhere(html.read_text("utf-8"))]
    for sheet in _built(site, ".css", ".js"):
        found += [f"{sheet.relative_to(site)}: loads {target}" for target in _css_elsewhere(sheet.read_text("utf-8"))]
    assert not found, "the site must work offline:\n" + "\n".join(found)


def test_the_check_would_see_a_font_a_script_or_a_stylesheet_from_elsewhere() -> None:
    """The checks above, against the references a theme with web fonts on, or a CDN script, would write."""
    html = (
        '<link rel="preconnect" href="https://fonts.gstatic.com"><link rel="stylesheet" href="//cdn.example/x.css">'
        '<script src="https://unpkg.com/mermaid.js"></script><a href="https://github.com/">followed, not loaded</a>'
        '<img src="assets/images/x.png"><img srcset="a.png 1x, https://cdn.example/b.png 2x">'
        '<div style="background: url(&quot;https://cdn.example/bg.png&quot;)"></div><img src="data:image/png;x">'
    )
    assert _html_elsewhere(html) == [
        "<link preconnect='https://fonts.gstatic.com'>", "<link stylesheet='//cdn.example/x.css'>",
        "<script src='https://unpkg.com/mermaid.js'>", "<img srcset='https://cdn.example/b.png'>",
        "style url 'https://cdn.example/bg.png'",
    ]  # fmt: skip
    css = '@import "https://fonts.googleapis.com/css?family=Roboto"; a{b:url(data:image/svg+xml;x)} c{d:url(../x.svg)}'
    assert _css_elsewhere(css) == ["https://fonts.googleapis.com/css?family=Roboto"]


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


def _object(path: str) -> Any:
    """The object a dotted path names: a module, or an attribute of one."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)


def _public_members(path: str) -> list[str]:
    """The public functions, classes, methods and properties a module or class of DOCUMENTED defines itself."""
    obj = _object(path)
    if inspect.ismodule(obj):
        return [
            f"{path}.{name}" for name, member in vars(obj).items()
            if not name.startswith("_") and (inspect.isfunction(member) or inspect.isclass(member))
            and member.__module__ == obj.__name__
        ]  # fmt: skip
    if inspect.isclass(obj):
        kinds = (property, staticmethod, classmethod)
        return [
            f"{path}.{name}" for name, member in vars(obj).items()
            if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, kinds))
        ]  # fmt: skip
    return []


def _exported() -> list[str]:
    """Every name the three installed packages export (`__all__`), as a user imports it."""
    return [f"{top}.{name}" for top in EXPORTING for name in importlib.import_module(top).__all__]


def test_the_python_reference_documents_every_public_name(site: Path) -> None:
    ids = _ids((site / "reference" / "python" / "index.html").read_text(encoding="utf-8"))
    wanted = [name for path in DOCUMENTED for name in (path, *_public_members(path))]
    wanted += [name for name in _exported() if name not in wanted]
    missing = [name for name in wanted if name not in ids]
    assert not missing, f"not in reference/python.md (a public name without a docstring is left out): {missing}"
    assert len(wanted) > 60  # the classes' methods were found, not only the names listed


def test_the_cli_reference_shows_every_command_and_option(site: Path) -> None:
    html = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    sections = {m.group(1): m.group(0) for m in re.finditer(r'<h3 id="mock-esd-([a-z-]+)".*?(?=<h[23] |$)', html, re.S)}
    assert sorted(sections) == sorted(COMMANDS), "a section per command of mock_esd_workbench.commands.COMMANDS"
    missing = []
    for name in COMMANDS:
        command = main.commands[name]
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                missing += [f"{name} {opt}" for opt in param.opts if opt not in sections[name]]
    assert not missing, f"options missing from reference/cli.md: {missing}"


def _schema_bodies() -> dict[str, dict[str, Any]]:
    """Each `$defs` body of the control schema, `$ref`s followed, as the page should show it."""
    documents = [json.loads((ROOT / "contracts" / n).read_text("utf-8")) for n in ("control.schema.json", "scenario.schema.json")]  # fmt: skip
    resolver = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in documents).resolver()
    bodies = {}
    for name, body in documents[0]["$defs"].items():
        bodies[name] = resolver.lookup(body["$ref"]).contents if "$ref" in body else body
    return bodies


def test_the_control_api_page_shows_every_body_and_field(site: Path) -> None:
    html = (site / "reference" / "control-api" / "index.html").read_text(encoding="utf-8")
    sections = {m.group(1): m.group(0) for m in re.finditer(r'<h2 id="([a-z_]+)".*?(?=<h2 |$)', html, re.S)}
    bodies = _schema_bodies()
    assert sorted(sections) == sorted(bodies), "a section per $defs body of contracts/control.schema.json"
    missing = []
    for name, body in bodies.items():
        if name == "params":
            shown = re.findall(r"<tr>\s*<td><code>(\w+)</code></td>\s*<td><code>(\w+)</code>", sections[name])
            wanted = [(kind, field) for kind, b in body["$defs"].items() for field in b.get("properties", {})]
            missing += [f"params {kind}.{field}" for kind, field in wanted if (kind, field) not in shown]
            missing += [f"params {kind}" for kind in body["$defs"] if f"<code>{kind}</code>" not in sections[name]]
            continue
        for field in body.get("properties", {}):
            if f"<code>{field}</code>" not in sections[name]:
                missing.append(f"{name}.{field}")
        if body.get("description") and body["description"] not in sections[name]:
            missing.append(f"{name}: its description")
    assert not missing, f"missing from reference/control-api.md: {missing}"


def test_the_control_api_page_says_each_field_s_bounds(site: Path) -> None:
    html = (site / "reference" / "control-api" / "index.html").read_text(encoding="utf-8")
    fault = re.search(r'<h2 id="fault".*?(?=<h2 )', html, re.S)
    assert fault is not None
    row = re.search(r"<tr>\s*<td><code>n</code></td>(.*?)</tr>", fault.group(0), re.S)
    assert row is not None and "integer" in row.group(1) and "≥ 1" in row.group(1) and "2^53 - 1" in row.group(1)
    endpoint = re.search(r"<tr>\s*<td><code>endpoint</code></td>(.*?)</tr>", fault.group(0), re.S)
    assert endpoint is not None and ">yes<" in endpoint.group(1), "endpoint is required"


def test_the_changelog_page_is_the_repository_s_changelog(site: Path) -> None:
    html = (site / "changelog" / "index.html").read_text(encoding="utf-8")
    headings = re.findall(r"^##+ \[?([^\]\n]+)\]?", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert headings
    assert [h for h in headings if h.strip() not in html] == []


@pytest.mark.parametrize("page", ["rules", "scaling"])
def test_the_existing_documents_are_pages_of_the_site(site: Path, page: str) -> None:
    title = (ROOT / "docs" / f"{page}.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
    assert title in (site / page / "index.html").read_text(encoding="utf-8")
