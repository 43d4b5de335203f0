"""Releasing: the wheels workflow publishes to PyPI only from a version tag and only after every
build job passed; the changelog has an entry for the version the package carries.

The workflow and the changelog are in the repository, not in the installed package or the
copy of tests/ that cibuildwheel tests a wheel with: there these tests skip.
"""

import pathlib
import re
import subprocess
import sys

import pytest

import lrelu

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"
CHANGELOG = ROOT / "CHANGELOG.md"

needs_workflow = pytest.mark.skipif(not WORKFLOW.exists(), reason="no .github/ beside the tests")


def _workflow():
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _publish_jobs(workflow):
    return {name: job for name, job in workflow["jobs"].items()
            if any("pypa/gh-action-pypi-publish" in step.get("uses", "") for step in job.get("steps", []))}


@needs_workflow
def test_the_workflow_is_valid_against_the_github_workflow_schema():
    pytest.importorskip("check_jsonschema")
    checked = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                              "vendor.github-workflows", str(WORKFLOW)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_workflow
def test_one_job_publishes_and_it_needs_every_other_job():
    workflow = _workflow()
    publish = _publish_jobs(workflow)
    assert len(publish) == 1, list(publish)
    (name, job), = publish.items()
    others = set(workflow["jobs"]) - {name}
    assert others == {"wheels", "sdist"}, others        # a new build job must be added to needs
    assert set(job["needs"]) == others


@needs_workflow
def test_publishing_runs_only_for_a_pushed_version_tag():
    workflow = _workflow()
    (job,) = _publish_jobs(workflow).values()
    on = workflow[True] if True in workflow else workflow["on"]   # YAML 1.1 reads `on` as True
    assert "v*" in on["push"]["tags"]
    condition = job["if"].replace(" ", "")
    assert "github.event_name=='push'" in condition
    assert "startsWith(github.ref,'refs/tags/v')" in condition


@needs_workflow
def test_publishing_is_trusted_publishing_from_the_pypi_environment():
    (job,) = _publish_jobs(_workflow()).values()
    assert job["permissions"] == {"id-token": "write"}
    environment = job["environment"]
    assert (environment["name"] if isinstance(environment, dict) else environment) == "pypi"
    publish_step = next(s for s in job["steps"] if "gh-action-pypi-publish" in s.get("uses", ""))
    assert "password" not in publish_step.get("with", {}), "trusted publishing needs no token"


@needs_workflow
def test_publishing_uploads_every_artifact_the_build_jobs_made():
    workflow = _workflow()
    (job,) = _publish_jobs(workflow).values()
    uploaded = [step["with"]["name"] for other in workflow["jobs"].values() for step in other["steps"]
                if step.get("uses", "").startswith("actions/upload-artifact")]
    assert any(name.startswith("wheels-") for name in uploaded) and "sdist" in uploaded
    download = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/download-artifact"))
    assert "name" not in download.get("with", {}), "download every artifact, not one"
    assert download["with"]["merge-multiple"] is True and download["with"]["path"] == "dist"


@pytest.mark.skipif(not CHANGELOG.exists(), reason="no CHANGELOG.md beside the tests")
def test_the_changelog_has_an_unreleased_section_and_one_for_the_current_version():
    # Until a version is tagged the package is a PEP 440 development release of it
    # (0.1.0.dev0), and the changelog's heading for that version says it is not yet tagged
    # and names the development version, so `lrelu --version` and the changelog agree.
    version = pytest.importorskip("packaging.version").Version(lrelu.__version__)
    assert str(version) == lrelu.__version__, "not in PEP 440's normal form"
    text = CHANGELOG.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings[0] == "Unreleased"
    heading = next((h for h in headings[1:] if h.split()[0] == version.base_version), None)
    assert heading, (version.base_version, headings)
    section = text.split(f"## {heading}\n")[1].split("\n## ")[0]
    if version.is_devrelease:
        assert "not yet tagged" in heading and f"`{lrelu.__version__}`" in section
    else:
        assert "not yet tagged" not in heading and not version.is_prerelease


def test_the_installed_metadata_carries_the_packages_version():
    from importlib.metadata import version
    assert version("lrelu") == lrelu.__version__


PYPROJECT = ROOT / "pyproject.toml"
needs_pyproject = pytest.mark.skipif(not PYPROJECT.exists(), reason="no pyproject.toml beside the tests")


def _project():
    return pytest.importorskip("tomllib").loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


@needs_pyproject
def test_no_extra_pins_a_package_so_installing_one_keeps_the_users_own():
    requirement = pytest.importorskip("packaging.requirements").Requirement
    for extra, requirements in _project()["optional-dependencies"].items():
        for text in requirements:
            spec = requirement(text).specifier
            assert not any(s.operator in ("==", "===", "~=") for s in spec), (extra, text)
    torch = [requirement(t) for t in _project()["optional-dependencies"]["bench"] if t.startswith("torch")]
    assert torch and all(s.operator == ">=" for r in torch for s in r.specifier)


@needs_pyproject
def test_the_project_says_where_its_documentation_source_issues_and_changelog_are():
    urls = _project()["urls"]
    assert set(urls) >= {"Documentation", "Source", "Issues", "Changelog"}
    assert all(url.startswith("https://") for url in urls.values())
    assert urls["Changelog"].endswith("/CHANGELOG.md") and urls["Issues"].startswith(urls["Source"])


def test_install_hints_name_the_package_not_an_extra_of_lrelu():
    # lrelu's extras install only where lrelu itself came from an index; from a checkout
    # `pip install 'lrelu[plot]'` fails. Every hint lrelu prints names the package itself.
    package = pathlib.Path(lrelu.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"pip install ['\"]?lrelu\[", text), path
