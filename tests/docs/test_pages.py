"""The documentation by task: the README stays a front door that links into the pages, and a page that lists what
the code defines (the verifier's checks, the proxy's one-answer checks) has a section or a row for each, so a
check added to the code and not to its page fails here."""

from __future__ import annotations

import re

from mock_esd_contracts.checks import CHECKS
from mock_esd_contracts.exchange import EXCHANGE_CHECKS
from tests.layout import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 200
# the pages by task the README must link to, so a reader on GitHub can reach each
TASK_PAGES = [
    "docs/getting-started.md", "docs/qa/index.md", "docs/developers/index.md", "docs/partners/index.md",
    "docs/partners/verify.md", "docs/rules.md", "docs/limits.md", "docs/architecture.md",
]  # fmt: skip


def _text(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def test_the_readme_is_a_front_door_of_at_most_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move the detail into a page of docs/"


def test_the_readme_links_each_task_page_and_every_link_into_docs_resolves() -> None:
    links = re.findall(r"\]\((docs/[^)#\s]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    assert [link for link in links if not (ROOT / link).is_file()] == []
    assert [page for page in TASK_PAGES if page not in links] == []


def _verify_sections() -> dict[str, str]:
    """docs/partners/verify.md's "one by one" part: each `### name` heading and the text under it, in order."""
    text = _text("docs/partners/verify.md")
    assert "\n## The checks, one by one\n" in text
    part = text.split("\n## The checks, one by one\n", 1)[1].split("\n## ", 1)[0]
    sections = re.split(r"^### ", part, flags=re.M)[1:]
    return {section.split("\n", 1)[0].strip(): section.split("\n", 1)[1] for section in sections}


def test_the_verify_page_has_a_section_for_every_check_saying_what_it_proves_and_how_to_fix_it() -> None:
    sections = _verify_sections()
    assert list(sections) == [check.name for check in CHECKS], "a `### name` section per check, in the verifier's order"
    for name, section in sections.items():
        proves = re.search(r"\*\*What it proves\.\*\*\s+(\S.*?)(?:\n\n|$)", section, re.S)
        fix = re.search(r"\*\*How to fix a failure\.\*\*\s+(\S.*?)(?:\n\n|$)", section, re.S)
        assert proves and len(proves.group(1)) > 80, f"{name}: no 'What it proves.' paragraph"
        assert fix and len(fix.group(1)) > 80, f"{name}: no 'How to fix a failure.' paragraph"


def test_the_verify_page_s_table_links_every_check_to_its_section() -> None:
    table = _text("docs/partners/verify.md").split("\n## The checks\n", 1)[1].split("\n## ", 1)[0]
    linked = re.findall(r"\[([a-z-]+)\]\(#\1\)", table)
    assert sorted(linked) == sorted(check.name for check in CHECKS)


def test_the_proxy_page_lists_exactly_the_one_answer_checks() -> None:
    table = _text("docs/partners/proxy.md").split("| check | what one answer must show |\n|---|---|\n", 1)[1]
    rows = re.findall(r"^\| ([a-z-]+) \| ", table.split("\n\n", 1)[0], re.M)
    assert rows == list(EXCHANGE_CHECKS)


def test_the_number_of_checks_said_anywhere_is_the_number_there_is() -> None:
    said = [
        (str(path.relative_to(ROOT)), int(n))
        for path in [README, *sorted(DOCS.rglob("*.md"))]
        for n in re.findall(r"\b(\d+) named checks\b", path.read_text(encoding="utf-8"))
    ]
    assert len(said) >= 2
    assert [(where, n) for where, n in said if n != len(CHECKS)] == []


# A dotted name of the installed packages, or a repository file, as the pages quote them in backticks.
NAMED_OBJECT = re.compile(r"`((?:mock_esd|mock_esd_sync|mock_esd_contracts|mock_esd_workbench)(?:\.[A-Za-z_]\w*)+)")
NAMED_FILE = re.compile(
    r"`((?:mock_esd|sync|contracts|workbench|tests|benchmarks|docs)/[\w/.-]+\.(?:py|md|json|yaml|toml|html))`"
)


def _resolves(dotted: str) -> bool:
    """Whether `dotted` is a module of the installed packages, or an attribute (a class's too) of one."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def test_every_module_file_and_name_the_pages_quote_exists() -> None:
    """A page naming `mock_esd.builders` after it moved to `mock_esd.district.builders` sends readers nowhere."""
    stale = []
    for page in [README, *sorted(DOCS.rglob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(ROOT)
        stale += [f"{where}: {name}" for name in sorted(set(NAMED_OBJECT.findall(text))) if not _resolves(name)]
        stale += [f"{where}: {path}" for path in sorted(set(NAMED_FILE.findall(text))) if not (ROOT / path).exists()]
    assert stale == []
