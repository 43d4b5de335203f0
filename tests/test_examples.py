"""The scripts of examples/ run, on small sizes, against the installed lrelu: each checks its
own results against lrelu.reference and exits non-zero if they differ."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"

# script: (arguments that keep it to a few seconds, packages it needs beyond lrelu and NumPy)
RUNS = {
    "npy_pipeline.py": (["--mb", "4"], []),
    "prelu_training.py": (["--batches", "100", "--size", "8"], []),
    "dask_cluster.py": (["--n", "100000"], ["dask", "distributed"]),
}

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="no examples/ beside the tests (installed tests)")


def test_every_example_is_run_here():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(RUNS)


@pytest.mark.parametrize("script", sorted(RUNS))
def test_the_example_runs(script, tmp_path):
    arguments, needs = RUNS[script]
    for package in needs:
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{script} needs {package}, not installed")
    # From outside the checkout, so the installed lrelu is the one imported.
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *arguments], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}{result.stderr}"
    assert "equal the listing" in result.stdout or "largest error" in result.stdout, result.stdout
