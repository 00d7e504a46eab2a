"""What a partner copies or builds from the repository: the CI recipes (docs/ci/), the container recipe
(Dockerfile, compose.yaml) and the version. Each is checked by the linter made for it, which is also shown
to catch a planted mistake; the recipes' scripts are run against a mock in tests/e2e/test_partner_ci.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from workbench.cli import main
from workbench.verify_command import verify_command

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / "docs" / "ci" / "verify.yml"
GITLAB = ROOT / "docs" / "ci" / "gitlab-verify.yml"


def tool(name: str) -> str:
    """A linter the test extra installs (beside this Python), else one on PATH; missing is a failure, not a skip."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; the test extra brings it: pip install -e '.[test]'")
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    """actionlint, with shellcheck on the `run:` scripts."""
    return run(tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"), str(path))


def gitlab_schema(path: Path) -> subprocess.CompletedProcess[str]:
    """GitLab's own JSON Schema for .gitlab-ci.yml, as vendored by check-jsonschema (no network)."""
    return run(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(path))


def planted(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is no longer in {source.name}: update the planted mistake"
    copy = tmp_path / source.name
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


# ----- the CI recipes ------------------------------------------------------------------------------


def test_the_github_workflow_passes_actionlint_and_shellcheck() -> None:
    done = actionlint(GITHUB)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("path: ${{ env.REPORT }}", "paths: ${{ env.REPORT }}", 'input "paths" is not defined'),
        ("${{ secrets.ESD_URL }}", "${{ secret.ESD_URL }}", "undefined variable"),
        ('if [ -n "$STANDARD_ID" ]; then', "if [ -n $STANDARD_ID ]; then", "SC2086"),
    ],
)
def test_actionlint_catches_a_mistake_planted_in_the_workflow(tmp_path: Path, old: str, new: str, said: str) -> None:
    done = actionlint(planted(tmp_path, GITHUB, old, new))
    assert done.returncode == 1, done.stdout + done.stderr
    assert said in done.stdout


def test_the_gitlab_job_passes_gitlabs_schema() -> None:
    done = gitlab_schema(GITLAB)
    assert done.returncode == 0, done.stdout + done.stderr


def test_gitlabs_schema_catches_a_mistake_planted_in_the_job(tmp_path: Path) -> None:
    done = gitlab_schema(planted(tmp_path, GITLAB, "    when: always\n", "    when: allways\n"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "allways" in done.stdout + done.stderr


def options_of(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in param.opts if opt.startswith("--")}


@pytest.mark.parametrize("recipe", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_the_recipes_give_only_options_mock_esd_has(recipe: Path) -> None:
    """An option verify does not know is a usage error (exit 2) that CI would only show on the partner's side."""
    commands = [line for line in recipe.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    given = {opt for line in commands for opt in re.findall(r"(?<![\w-])--[a-z][a-z-]*", line)}
    assert given >= {"--junit", "--client-id-standard", "--client-secret-standard", "--version"}
    assert given <= options_of(verify_command) | options_of(main)


def step_env(workflow: dict[str, Any], name: str) -> dict[str, str]:
    (step,) = [s for job in workflow["jobs"].values() for s in job["steps"] if s.get("name") == name]
    return dict(step["env"])


def test_the_github_workflow_takes_credentials_from_secrets_as_verify_reads_them() -> None:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    env = step_env(workflow, "mock-esd verify")
    read = {p.name: p.envvar for p in verify_command.params if p.envvar}
    assert set(read.values()) == {"ESD_URL", "ESD_CLIENT_ID", "ESD_CLIENT_SECRET"}
    for variable in read.values():
        assert env[variable] == f"${{{{ secrets.{variable} }}}}"
    assert all("secrets." in value for value in env.values())  # nothing secret is written in the file


def test_the_report_verify_writes_is_the_one_ci_keeps() -> None:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    (upload,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["path"] == "${{ env.REPORT }}"
    assert '--junit "$REPORT"' in GITHUB.read_text(encoding="utf-8")
    assert upload["if"] == "${{ !cancelled() }}"  # kept when a check failed, which is when it matters

    gitlab = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))["esd-contract"]
    written = re.search(r"--junit (\S+)", "\n".join(gitlab["script"]))
    assert written is not None
    assert gitlab["artifacts"]["reports"]["junit"] == written.group(1)
    assert gitlab["artifacts"]["when"] == "always"
