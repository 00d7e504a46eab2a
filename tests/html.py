"""Read the browser view's HTML in tests without a browser: tables as rows of cell texts, and links."""

from __future__ import annotations

from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self.forms: list[str] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._count += 1
            self._table = self.tables.setdefault(a.get("id") or a.get("aria-labelledby") or str(self._count), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        elif tag == "form" and a.get("method") == "post":
            self.forms.append(str(a.get("action")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def table(html: str, name: str) -> list[list[str]]:
    """The rows (header row first) of the table with this id or aria-labelledby."""
    return parse(html).tables[name]
