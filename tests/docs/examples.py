"""The examples of the README and of docs/: every fenced Python and shell block, found and made ready to run.

A block runs as a reader would run it, against a mock the test starts; what a reader would change in it, the
test changes the same way, and only that (`prepared`):

- `.venv/bin/X` is the test's own interpreter's `X`; `mock-esd serve` and `mock-esd proxy`, which run until
  stopped, start in the background on a free port (`--port 0`), and are stopped (SIGTERM) when the block ends;
  each must then exit 0.
- `http://127.0.0.1:8080` (and `localhost:8080`) is the test's mock; so are the partner's placeholders
  `https://your-host/api` and `https://district.example/api`.
- the credentials' placeholders are the mock's clients: `CLIENT_ID` / `CLIENT_SECRET` and `--client-id ID
  --client-secret SECRET` its custom client, `--client-id-standard ID2 --client-secret-standard SECRET2` its
  standard one.
- `[--option ...]` in a command line is optional, as in a usage line: the block runs without it.

A Python block whose first line is `# test_NAME.py`, or that defines a `test_` function, is a test file: it runs
under pytest (with this package's plugin) in a folder of its own. Any other Python block runs in a fresh
namespace. A shell block runs with `bash -e` in a folder of its own.

An HTML comment just before a block says what else to do with it, visibly:
- `<!-- example: skip REASON -->`: the block cannot run here; REASON says why, and the test run lists it.
- `<!-- example: file NAME -->`: the block (of any language) is a file the document's other blocks use; it is
  written as NAME into each block's folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.layout import ROOT

RUN = {"python": "python", "py": "python", "bash": "shell", "sh": "shell", "shell": "shell", "console": "shell"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
MARKER = re.compile(r"^\s*<!--\s*example:\s*(?P<verb>\S+)\s*(?P<rest>.*?)\s*-->\s*$")
VERBS = ("skip", "file")


@dataclass(frozen=True)
class Example:
    """One fenced block of a Markdown file, with the marker before it (if any)."""

    source: str  # the Markdown file, relative to the repository
    line: int  # the opening fence's line, 1-based
    language: str  # the info string's first word, lower case ("" for none)
    text: str  # the block's content, its indentation removed
    verb: str | None = None  # the marker's verb: "skip" or "file"
    argument: str = ""  # the marker's reason (skip) or file name (file)

    @property
    def name(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def kind(self) -> str | None:
        """ "python" or "shell" for a block the test runs (skipped or not), None for one it only reads."""
        return None if self.verb == "file" else RUN.get(self.language)


class MarkerError(ValueError):
    """A marker the collector does not understand, or one with no block after it."""


def documents() -> list[Path]:
    """The Markdown whose examples run: the README and every page of docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path, source: str | None = None) -> list[Example]:
    """Every fenced block of a Markdown file (named `source`: by default its path in the repository), each with
    its marker. Raises MarkerError for a marker it cannot use."""
    source = source or str(path.relative_to(ROOT))
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    pending: tuple[int, str, str] | None = None  # a marker waiting for its block: (line, verb, argument)
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        marker = MARKER.match(lines[i])
        if marker:
            pending = _marker(source, i + 1, marker.group("verb"), marker.group("rest"))
        elif opening:
            end, body = _body(lines, i, opening)
            verb, argument = (pending[1], pending[2]) if pending else (None, "")
            language = (opening.group("info").split() or [""])[0].lower()
            found.append(Example(source, i + 1, language, body, verb, argument))
            pending = None
            i = end
        elif lines[i].strip() and pending is not None:
            raise MarkerError(f"{source}:{pending[0]}: the example marker is not right before a fenced block")
        i += 1
    if pending is not None:
        raise MarkerError(f"{source}:{pending[0]}: the example marker is not right before a fenced block")
    return found


def _marker(source: str, line: int, verb: str, argument: str) -> tuple[int, str, str]:
    if verb not in VERBS:
        raise MarkerError(f"{source}:{line}: unknown example marker {verb!r}; known: {', '.join(VERBS)}")
    if not argument:
        said = "a reason" if verb == "skip" else "a file name"
        raise MarkerError(f"{source}:{line}: `<!-- example: {verb} -->` needs {said}")
    return line, verb, argument


def _body(lines: list[str], start: int, opening: re.Match[str]) -> tuple[int, str]:
    """The block's content (its fence's indentation removed) and the closing fence's index."""
    indent, fence = opening.group("indent"), opening.group("fence")
    closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
    for end in range(start + 1, len(lines)):
        if closing.match(lines[end]):
            body = [
                line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[start + 1 : end]
            ]
            return end, "\n".join(body) + "\n"
    raise MarkerError(f"line {start + 1}: a fenced block that never closes")


def all_examples() -> list[Example]:
    """Every runnable block (skipped ones too) of every document, in order."""
    return [example for path in documents() for example in blocks(path) if example.kind is not None]


def files_of(source: str) -> dict[str, str]:
    """The `file` blocks of one document: name -> content."""
    return {e.argument: e.text for e in blocks(ROOT / source) if e.verb == "file"}


@dataclass(frozen=True)
class Mock:
    """What the examples' placeholders stand for: the test's mock district."""

    base_url: str  # http://127.0.0.1:PORT/api
    custom: tuple[str, str]  # (client id, secret)
    standard: tuple[str, str]


OPTIONAL = re.compile(r"[ \t]*\[--[^\]\n]*\]")  # `[--json]`, `[--ca-bundle ca.pem | --insecure]`


def prepared(text: str, mock: Mock, bin_dir: Path) -> str:
    """A shell block as the test runs it: the substitutions of the module docstring, and only those."""
    origin = mock.base_url.removesuffix("/api")
    (cid, secret), (sid, ssecret) = mock.custom, mock.standard
    text = OPTIONAL.sub("", text)
    text = re.sub(r"https://(?:your-host|district\.example)/api", mock.base_url, text)
    text = re.sub(r"http://(?:127\.0\.0\.1|localhost):8080", origin, text)
    text = re.sub(r"--client-id-standard ID2\b", f"--client-id-standard {sid}", text)
    text = re.sub(r"--client-secret-standard SECRET2\b", f"--client-secret-standard {ssecret}", text)
    text = re.sub(r"--client-id ID\b", f"--client-id {cid}", text)
    text = re.sub(r"--client-secret SECRET\b", f"--client-secret {secret}", text)
    text = re.sub(r"\bCLIENT_ID\b", cid, text)
    text = re.sub(r"\bCLIENT_SECRET\b", secret, text)
    text = text.replace(".venv/bin/mock-esd", "mock-esd")  # the function of PRELUDE, which knows serve and proxy
    text = text.replace(".venv/bin/", f"{bin_dir}/")
    return text


def console_commands(text: str) -> str:
    """A console block's commands (the lines after `$ `, with their continuations); its output is not run."""
    out, continued = [], False
    for line in text.splitlines():
        if line.startswith("$ ") or continued:
            command = line[2:] if line.startswith("$ ") and not continued else line
            out.append(command)
            continued = command.rstrip().endswith("\\")
    return "\n".join(out) + "\n"


# Before each shell block: the test's bin first on PATH, and `mock-esd serve` / `proxy` in the background.
PRELUDE = r"""
set -euo pipefail
export PATH="$EXAMPLE_BIN:$PATH"
_background_pids=()
_stop_background() {
    local status=$? failed=0 i
    for i in "${!_background_pids[@]}"; do
        kill -TERM "${_background_pids[$i]}" 2>/dev/null || true
        if ! wait "${_background_pids[$i]}"; then
            echo "example: a background mock-esd did not exit 0 when stopped; its output:" >&2
            cat "background-$i.log" >&2
            failed=1
        fi
    done
    if [ "$status" -eq 0 ] && [ "$failed" -ne 0 ]; then exit 1; fi
    exit "$status"
}
trap _stop_background EXIT
mock-esd() {
    case "${1-}" in
        serve|proxy) ;;
        *) command mock-esd "$@"; return ;;
    esac
    local args=() skip=0 arg log="background-${#_background_pids[@]}.log" waited=0
    for arg in "$@"; do  # a free port, not the one written: the test's mock may hold it
        if [ "$skip" -eq 1 ]; then skip=0; continue; fi
        case "$arg" in --port) skip=1; continue ;; --port=*) continue ;; esac
        args+=("$arg")
    done
    : >"$log"  # before the process starts, so the wait below reads an existing file
    command mock-esd "${args[@]}" --port 0 >>"$log" 2>&1 &
    _background_pids+=("$!")
    until grep -q 'http://127.0.0.1:[0-9]' "$log"; do
        if ! kill -0 "$!" 2>/dev/null || [ "$waited" -ge 600 ]; then
            echo "example: mock-esd $1 did not start; its output:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}
"""
