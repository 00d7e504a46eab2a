"""Every Python and shell example of the README and of docs/ runs, against a mock, as `tests/docs/examples.py` says.

An example that no longer works fails here, naming its file and line. One that cannot run here says so with a
marker in the Markdown (`<!-- example: skip REASON -->`) and is reported as skipped with that reason (`-ra`).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_esd.testing import Districts, district_spec
from tests.docs.examples import (
    PRELUDE,
    Example,
    MarkerError,
    Mock,
    all_examples,
    blocks,
    console_commands,
    files_of,
    prepared,
)

EXAMPLES = all_examples()
BIN = Path(sys.executable).parent
SPEC = district_spec(seed=1, students=2000)  # what `mock-esd serve` and the demo serve, as the examples assume
TEST_FILE = re.compile(r"^#\s*(test_\w+\.py)\s*$")


@pytest.fixture(scope="module")
def districts() -> Iterator[Districts]:
    with Districts(SPEC) as districts:
        yield districts


@pytest.fixture
def mock(districts: Districts) -> Iterator[Mock]:
    """A fresh seed-1 district of 2,000 students, live on 127.0.0.1, for one example."""
    with districts.live(SPEC, "example") as esd:
        yield Mock(
            esd.base_url, (esd.custom.client_id, esd.custom.client_secret),
            (esd.standard.client_id, esd.standard.client_secret),
        )  # fmt: skip


def _folder(tmp_path: Path, example: Example) -> Path:
    """The example's own folder, holding the `file` blocks of its document."""
    for name, text in files_of(example.source).items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return tmp_path


def _is_test_file(text: str) -> str | None:
    """The file name a Python block runs under pytest as, or None for a block that runs as a script."""
    first = text.splitlines()[0] if text.strip() else ""
    named = TEST_FILE.match(first)
    if named:
        return named.group(1)
    tree = ast.parse(text)
    defines_tests = any(isinstance(n, ast.FunctionDef) and n.name.startswith("test_") for n in tree.body)
    return "test_example.py" if defines_tests else None


def _run(command: list[str], folder: Path, example: Example, **env: str) -> subprocess.CompletedProcess[str]:
    # as a reader's shell has it: not this session's pytest, xdist worker or planted mutation
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MOCK_ESD_MUTATION"))}
    environment = {**kept, "NO_COLOR": "1", **env}
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300, env=environment)
    assert result.returncode == 0, (
        f"{example.name}: the example failed (exit {result.returncode}):\n{example.text}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
    return result


def _run_python(example: Example, folder: Path) -> None:
    test_file = _is_test_file(example.text)
    if test_file is None:
        (folder / "example.py").write_text(example.text, encoding="utf-8")
        _run([sys.executable, "example.py"], folder, example)
        return
    (folder / test_file).write_text(example.text, encoding="utf-8")
    result = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file], folder, example)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "skipped" not in summary, f"{example.name}: {summary}"


def _run_shell(example: Example, folder: Path, mock: Mock) -> None:
    text = console_commands(example.text) if example.language == "console" else example.text
    script = folder / "example.sh"
    script.write_text(PRELUDE + prepared(text, mock, BIN), encoding="utf-8")
    _run(["bash", str(script)], folder, example, EXAMPLE_BIN=str(BIN))


@pytest.mark.e2e
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_the_example_runs(example: Example, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if example.verb == "skip":
        pytest.skip(f"marked in {example.name}: {example.argument}")
    folder = _folder(tmp_path, example)
    if example.kind == "python":
        _run_python(example, folder)
    else:
        _run_shell(example, folder, request.getfixturevalue("mock"))


def test_the_examples_are_found() -> None:
    """The collector sees the README's blocks and the pages': a change to the fences or markers cannot make it see
    none."""
    readme = [e for e in EXAMPLES if e.source == "README.md"]
    assert {e.kind for e in readme} == {"python", "shell"}
    assert any(e.verb == "skip" for e in readme), "the README's set-up commands are marked, not run"
    pages = {e.source for e in EXAMPLES if e.verb != "skip"}
    for page in ("getting-started.md", "qa/fixtures.md", "developers/sync.md", "partners/verify.md"):
        assert f"docs/{page}" in pages, f"no example of docs/{page} runs"
    assert len([e for e in EXAMPLES if e.verb != "skip"]) >= 15
    assert all(e.verb != "skip" or e.argument for e in EXAMPLES)


def test_a_marker_is_read_strictly(tmp_path: Path) -> None:
    """A misspelt marker, one without a reason, or one with no block after it is an error, never ignored."""
    doc = tmp_path / "doc.md"
    cases = {
        "<!-- example: skp because -->\n```bash\ntrue\n```\n": "unknown example marker 'skp'",
        "<!-- example: skip -->\n```bash\ntrue\n```\n": "needs a reason",
        "<!-- example: skip slow -->\n\nSome text.\n```bash\ntrue\n```\n": "not right before a fenced block",
        "text\n<!-- example: file -->\n": "needs a file name",
    }
    for text, message in cases.items():
        doc.write_text(text, encoding="utf-8")
        with pytest.raises(MarkerError, match=message):
            blocks(doc, "doc.md")


def test_the_placeholders_are_what_a_reader_fills_in() -> None:
    mock = Mock("http://127.0.0.1:5000/api", ("cid", "cs"), ("sid", "ss"))
    text = (
        ".venv/bin/mock-esd verify --url https://your-host/api --client-id ID --client-secret SECRET \\\n"
        "    [--client-id-standard ID2 --client-secret-standard SECRET2] [--json]\n"
        "curl -u CLIENT_ID:CLIENT_SECRET http://127.0.0.1:8080/api/v1/auth/token  # ESD_CLIENT_ID stays\n"
        ".venv/bin/python -c 'import json; print(json.load(f)[\"x\"])'\n"
    )
    assert prepared(text, mock, Path("/opt/bin")).splitlines() == [
        "mock-esd verify --url http://127.0.0.1:5000/api --client-id cid --client-secret cs \\",
        "",
        "curl -u cid:cs http://127.0.0.1:5000/api/v1/auth/token  # ESD_CLIENT_ID stays",
        "/opt/bin/python -c 'import json; print(json.load(f)[\"x\"])'",
    ]
    assert (
        console_commands("$ mock-esd rules \\\n  --help\nUsage: ...\n$ true\n") == "mock-esd rules \\\n  --help\ntrue\n"
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("language", "text", "failure"),
    [
        ("python", "import mock_esd\nraise SystemExit(mock_esd.mock_district(students=1).spec.students - 1)\n", None),
        ("python", "assert 1 + 1 == 3, 'arithmetic'\n", "AssertionError: arithmetic"),
        ("python", "# test_skips.py\nimport pytest\n\n\ndef test_x():\n    pytest.skip('not here')\n", "skipped"),
        ("python", "def test_x(esd_inprocess):\n    assert esd_inprocess.control.student(1)['id'] == 2\n", "1 failed"),
        ("bash", "mock-esd rules | grep -q R11\n", None),
        ("bash", "mock-esd export --db missing/operoo.db\necho never\n", "exit 2"),
        ("bash", ".venv/bin/mock-esd serve --port 8080 --seed 1 --students 5\n", None),
        ("bash", ".venv/bin/mock-esd serve --scenario nowhere.yaml\n", "did not start"),
    ],
)
def test_the_runner_passes_a_working_example_and_fails_a_broken_one(
    language: str, text: str, failure: str | None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The runner itself: a script, a test file and a shell block, each passing or failing as a reader's would."""
    example = Example("README.md", 1, language, text)
    if failure is None:
        test_the_example_runs(example, tmp_path, request)
        return
    with pytest.raises(AssertionError, match=failure):
        test_the_example_runs(example, tmp_path, request)
