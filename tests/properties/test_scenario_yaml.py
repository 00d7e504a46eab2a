"""The YAML reader (libyaml's events straight into data) means what `yaml.safe_load` means: the same data for
any document PyYAML writes, in any style, and for the hand-written corners (every implicit type, tags,
anchors, merge keys, dates as keys); and an error where safe_load has one. Dates become their ISO text as
values (a scenario keeps JSON's dates), as the reader did before.

A reader that differed would give a recorded district other records than its file says.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mock_esd.district import bounded_yaml, scenario
from mock_esd.errors import BadRequest
from mock_esd.limits import Limits

WORDS = st.sampled_from([
    "yes", "No", "on", "OFF", "y", "n", "true", "False", "null", "~", "Null", "", " ", "0", "-1", "+1", "007",
    "0x1F", "0o17", "0b101", "1_000", "1:30", "190:20:30", "1.5", "-.5", "1e3", ".inf", "-.Inf", ".NaN", "<<", "=",
    "2026-09-01", "2026-09-01 10:00:00", "2026-09-01T10:00:00Z", "2026-02-30", "Ada", "Ng", "O'Brien", "#x",
    "a: b", "- x", "[1]", "{a: 1}", "&a", "*a", "!x", "%YAML", "@x", "`x", "é", "Zoë", "line\nbreak", "\t",
])  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), WORDS, st.text(max_size=12), st.dates(),
)  # fmt: skip
KEYS = st.one_of(WORDS, st.text(max_size=8), st.integers(-5, 5), st.booleans(), st.none(), st.dates())
DATA = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4))


def reference(text: str) -> Any:
    """What the reader gave before: PyYAML's safe_load, then every date value as its ISO text (keys stay dates)."""

    def dates_to_text(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: dates_to_text(v) for k, v in node.items()}
        if isinstance(node, list):
            return [dates_to_text(v) for v in node]
        return node.isoformat() if isinstance(node, dt.date) else node

    return dates_to_text(yaml.safe_load(text))


def read(text: str) -> Any:
    return bounded_yaml.load(text, "test", Limits())


def same(a: Any, b: Any) -> bool:
    """Equal, types and all (True is not 1, 1.0 is not 1), NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@given(data=DATA, flow=st.sampled_from([None, True, False]), width=st.sampled_from([20, 80, 10_000]))
def test_any_document_pyyaml_writes_reads_as_safe_load_reads_it(data: Any, flow: bool | None, width: int) -> None:
    text = yaml.safe_dump({"root": data}, default_flow_style=flow, allow_unicode=True, width=width, sort_keys=False)
    assert same(read(text), reference(text))


CORNERS = [
    "a: yes\nb: off\nc: ~\nd: 0x1F\ne: 0o17\nf: 017\ng: 1_000\nh: 1:30\ni: .inf\nj: -.5\nk: 1e3\nl: +12",
    "a: 2026-09-01\nb: 2026-09-01 10:00:00\nc: 2026-09-01T10:00:00.5+02:00\n2026-09-01: key\n",
    "a: !!str 123\nb: !!int '7'\nc: !!float 1\nd: !!bool yes\ne: !!null ''\nf: !!timestamp 2026-01-02\ng: ! 12",
    "a: !!binary aGVsbG8=\nb: !!str\nc: ''\nd:\ne: '~'\nf: \"null\"\ng: 'yes'",
    "x: &m {relationship: Mother, priority: 1}\nlinks: [{studentId: 1, <<: *m}, {<<: *m, priority: 2}]",
    "base: &b {a: 1, b: 2}\nmore: &c {c: 3}\nm: {<<: [*b, *c], d: 4}\nn: {<<: *b, <<: *c}",
    "s: &s [1, 2]\nt: [*s, *s]\nu: &u x\nv: *u\n*u : y",
    "? [complex]\n: no",
    "a: 1\na: 2",
    "--- a\n...\n",
    "",
    "# nothing\n",
    "---\n",
    "a: b\n--- c\n",
    "a: *nothing",
    "a: [1, {b: 2}",
    "a: !foo 1",
    "a: !!map [1]",
    "a: <<",
    "a: =",
    "=: a",
    "a: {<<: 5}",
    "a: {<<: [1]}",
    "a: &x 1\nb: &x 2",
    "a: 2026-02-30",
    "{[1]: 2}",
]  # (a tab before a value: libyaml takes it, PyYAML's own scanner did not; sets and ordered maps: refused, below)


@pytest.mark.parametrize("text", CORNERS)
def test_the_corners_read_as_safe_load_reads_them_or_fail_alike(text: str) -> None:
    try:
        expected = reference(text)
    except (yaml.YAMLError, ValueError):
        with pytest.raises((yaml.YAMLError, ValueError)):
            read(text)
        return
    assert same(read(text), expected), (read(text), expected)


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("a: !!set {x}", "!!set is not taken"),
        ("a: !!omap [{x: 1}]", "!!omap is not taken"),
        ("a: !!pairs [{x: 1}]", "!!pairs is not taken"),
    ],
)
def test_sets_ordered_maps_and_pairs_are_refused_by_name(text: str, refused: str) -> None:
    """safe_load makes a set or tuples of these, which no scenario field takes: the reader says so at once."""
    with pytest.raises(BadRequest, match=refused):
        scenario.parse_text(text, "the body")


def test_merged_mappings_follow_the_spec_the_earlier_winning() -> None:
    """PyYAML 6.0.3 lets the later of two merged mappings win a key, unless the key is one character long."""
    merged = read("a: &a {key: 1, k: 1}\nb: &b {key: 2, k: 2, other: 2}\nm: {<<: [*a, *b], own: 0}")
    assert merged["m"] == {"key": 1, "k": 1, "other": 2, "own": 0}
    assert list(merged["m"]) == ["key", "k", "other", "own"]


def test_aliases_share_their_data_as_safe_load_does() -> None:
    data = read("s: &s {a: [1, 2]}\nt: [*s, *s]")
    assert data["t"][0] is data["t"][1] is data["s"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("a: *nothing", "line 1, column 4: found undefined alias '…'"),
        ("a: &mother 1\nb: &mother 2", "line 2, column 4: found duplicate anchor '…'"),
        ("a: [1, {b: 2}", "line 2, column 1"),
        ("a: 1\n---\nb: 2", "line 2, column 1: expected a single document in the stream but found another document"),
        ("{[1]: 2}", "found unhashable key"),
        ("a: {<<: 5}", "expected a mapping or list of mappings for merging, but found scalar"),
    ],
)
def test_an_error_names_the_line_and_column_and_not_the_text(text: str, error: str) -> None:
    with pytest.raises(BadRequest) as caught:
        scenario.parse_text(text, "the body")
    assert error in caught.value.detail and caught.value.detail.startswith("the body is neither YAML nor JSON")
