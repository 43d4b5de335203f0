#!/usr/bin/env bash
# The documentation site, as CI checks it: install the docs extra into the current Python
# environment (lrelu itself must be installed there already, as .ci/run's Quick start does),
# build docs/ from scratch with warnings as errors and no network (intersphinx stays off
# outside Read the Docs, docs/conf.py), then open the built site in headless Chromium
# (tools/check_docs_browser.py): the index and an API page render, the search finds
# leaky_relu_backward, no internal link is broken, and a screenshot of the index is kept at
# docs/_build/html/_screenshots/index.png.
#
# The docs' code blocks and the example scripts are tested by the default suite
# (tests/test_docs.py, tests/test_examples.py), not here.
#
#   bash tools/check_docs.sh            # needs root for apt if chromium is missing
set -euo pipefail
cd "$(dirname "$0")/.."

# The docs extra's requirements, read from pyproject.toml (its lrelu[...] entries expanded), so
# that installing them does not rebuild lrelu the way `pip install ".[docs]"` would.
mapfile -t requirements < <(python - <<'PY'
import tomllib

extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]

def expand(name):
    for requirement in extras[name]:
        if requirement.startswith("lrelu["):
            yield from expand(requirement[len("lrelu["):-1])
        else:
            yield requirement

print("\n".join(expand("docs")))
PY
)
python -m pip install -q "${requirements[@]}"

if ! command -v chromium >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

rm -rf docs/_build docs/api/generated docs/_generated
echo "== sphinx-build -W --keep-going (no network)"
# From docs/: `python -m` puts the working directory first on sys.path, and at the root that
# would be the checkout's lrelu/, which has no compiled modules, not the installed one.
(cd docs && python -m sphinx -W --keep-going -q -b html . _build/html)

echo "== headless Chromium on the built site"
python tools/check_docs_browser.py docs/_build/html
