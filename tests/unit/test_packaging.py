"""What a partner copies or builds from the repository: the CI recipes (docs/ci/), the container recipe
(Dockerfile, compose.yaml) and the version. Each is checked by the linter made for it, which is also shown
to catch a planted mistake; the recipes' scripts are run against a mock in tests/e2e/test_partner_ci.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from mock_esd.district.generator import DistrictSpec
from mock_esd.district.store import DistrictStore
from mock_esd_sync.settings import load_settings
from mock_esd_workbench.cli import main
from mock_esd_workbench.commands.demo import demo_settings
from mock_esd_workbench.commands.verify import verify
from tests.layout import FOLDERS, PACKAGES

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / "docs" / "ci" / "verify.yml"
GITLAB = ROOT / "docs" / "ci" / "gitlab-verify.yml"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


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


def vendored_schema(name: str, path: Path) -> subprocess.CompletedProcess[str]:
    """A format's own JSON Schema (GitLab's, the Compose Specification's), as check-jsonschema vendors it (offline)."""
    return run(tool("check-jsonschema"), "--builtin-schema", f"vendor.{name}", str(path))


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("hadolint"), "--no-color", str(path))


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
    done = vendored_schema("gitlab-ci", GITLAB)
    assert done.returncode == 0, done.stdout + done.stderr


def test_gitlabs_schema_catches_a_mistake_planted_in_the_job(tmp_path: Path) -> None:
    done = vendored_schema("gitlab-ci", planted(tmp_path, GITLAB, "    when: always\n", "    when: allways\n"))
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
    assert given <= options_of(verify) | options_of(main)


def step_env(workflow: dict[str, Any], name: str) -> dict[str, str]:
    (step,) = [s for job in workflow["jobs"].values() for s in job["steps"] if s.get("name") == name]
    return dict(step["env"])


def test_the_github_workflow_takes_credentials_from_secrets_as_verify_reads_them() -> None:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    env = step_env(workflow, "mock-esd verify")
    credentials = {"url", "client_id", "client_secret"}
    read = {p.name: p.envvar for p in verify.params if p.name in credentials}
    assert read == {"url": "ESD_URL", "client_id": "ESD_CLIENT_ID", "client_secret": "ESD_CLIENT_SECRET"}
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


# ----- the container recipe ------------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_passes_hadolint() -> None:
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("FROM python:3.11-slim", "FROM python", "DL3006"),  # an untagged base image
        ("USER 10001:10001", "USER root", "DL3002"),  # running as root
        ("RUN python3 -m venv", "RUN cd /app && python3 -m venv", "DL3003"),  # cd instead of WORKDIR
    ],
)
def test_hadolint_catches_a_mistake_planted_in_the_dockerfile(tmp_path: Path, old: str, new: str, said: str) -> None:
    done = hadolint(planted(tmp_path, DOCKERFILE, old, new))
    assert done.returncode == 1, done.stdout + done.stderr
    assert said in done.stdout


def test_the_image_installs_as_the_readme_says_and_runs_as_a_user() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_command = re.search(r"```bash\n# 1\.[^\n]*\n([^\n]+)", readme)
    assert first_command is not None
    steps = instructions(DOCKERFILE)
    (install,) = [args for kind, args in steps if kind == "RUN" and "pip install" in args]
    assert first_command.group(1).startswith(install), (install, first_command.group(1))
    users = [args for kind, args in steps if kind == "USER"]
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert steps[-1][0] == "CMD"
    assert steps.index(("USER", users[-1])) < steps.index(steps[-1])


def test_every_package_folder_is_in_the_wheel() -> None:
    """pyproject lists the packages by name (the folders are mapped to other names): a new sub-package must be listed."""
    found = {
        ".".join((top, *init.parent.relative_to(folder).parts))
        for top, folder in FOLDERS.items()
        for init in folder.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found == set(PACKAGES), f"not listed in pyproject.toml: {sorted(found - set(PACKAGES))}"


def test_the_build_context_holds_what_the_package_needs() -> None:
    """Every package pyproject installs, and its readme, is copied, and .dockerignore lets it through."""
    copied = {source for kind, args in instructions(DOCKERFILE) if kind == "COPY" for source in args.split()[:-1]}
    needed = {folder.name for folder in FOLDERS.values()}
    needed |= {"pyproject.toml", PYPROJECT["project"]["readme"]}
    assert needed <= copied
    ignore = [line for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert "*" in ignore  # nothing else (a .venv, an operoo.db, .git) reaches the build
    assert {f"!{name}" if "." in name else f"!{name}/" for name in needed} <= set(ignore)


def test_the_compose_file_follows_the_compose_specification() -> None:
    done = vendored_schema("compose-spec", COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_specification_catches_a_mistake_planted_in_the_file(tmp_path: Path) -> None:
    done = vendored_schema("compose-spec", planted(tmp_path, COMPOSE, "condition: service_healthy", "condition: up"))
    assert done.returncode == 1, done.stdout + done.stderr


def test_the_compose_sync_reaches_the_mock_on_loopback_with_the_shipped_script() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    mock, sync_run = compose["services"]["mock"], compose["services"]["sync"]
    assert sync_run["network_mode"] == "service:mock"  # the control API answers loopback callers only
    assert sync_run["depends_on"]["mock"]["condition"] == "service_healthy"
    assert any(kind == "HEALTHCHECK" for kind, _ in instructions(DOCKERFILE))
    assert "./docs/compose:/config:ro" in sync_run["volumes"]
    assert (ROOT / "docs/compose" / sync_run["command"][-1].removeprefix("/config/")).exists()
    assert all(port.startswith("127.0.0.1:") for port in mock["ports"])  # not published to the network


def test_the_compose_sync_script_passes_shellcheck() -> None:
    done = run(tool("shellcheck"), str(ROOT / "docs/compose/sync.sh"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_sync_settings_are_the_demos_for_the_default_district() -> None:
    shipped = load_settings(ROOT / "docs/compose/settings.toml")
    assert shipped == demo_settings(DistrictStore(DistrictSpec()).schools().records)


# ----- the version ---------------------------------------------------------------------------------


def test_mock_esd_version_is_pyprojects() -> None:
    done = run(tool("mock-esd"), "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"mock-esd, version {PYPROJECT['project']['version']}"


def test_the_version_is_written_in_pyproject_only() -> None:
    version = PYPROJECT["project"]["version"]
    for folder in FOLDERS.values():
        for source in folder.rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            assert "__version__" not in text, source
            assert f'"{version}"' not in text, source


def test_the_changelog_has_unreleased_changes_on_top_of_the_current_release() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", changelog, flags=re.MULTILINE)
    assert headings[0] == "[Unreleased]"
    releases = [re.fullmatch(r"\[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})", h) for h in headings[1:]]
    assert releases and all(releases), headings
    assert releases[0] is not None and releases[0].group(1) == PYPROJECT["project"]["version"]
    kinds = set(re.findall(r"^### (.+)$", changelog, flags=re.MULTILINE))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}  # Keep a Changelog's
