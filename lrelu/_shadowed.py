"""A source checkout found before the installed lrelu: `python -m lrelu` from the repository
root puts the root first on sys.path, so Python imports the checkout's lrelu/, which has the
sources but, after `pip install .`, none of the compiled extensions. Then the import is handed
over to the installed package, which is what the user just installed and means to run."""

import importlib.machinery
import importlib.util
import os
import sys


def _installed_spec(here):
    """The spec of an lrelu that is not the one in `here`, or None."""
    parent = os.path.dirname(here)
    path = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != parent]
    for finder in sys.meta_path:
        if not hasattr(finder, "find_spec"):
            continue
        try:
            spec = finder.find_spec("lrelu", path if finder is importlib.machinery.PathFinder else None)
        except Exception:   # a third-party finder that cannot answer: ask the next one
            continue
        if spec is not None and spec.origin and os.path.dirname(os.path.abspath(spec.origin)) != here:
            return spec
    return None


def hand_over(here, error):
    """Import the installed lrelu in place of the checkout in `here`, which failed with
    `error`; ImportError, saying what to do, if there is none."""
    spec = _installed_spec(here)
    if spec is None:
        raise ImportError(
            f"lrelu's compiled extensions are missing from {here}. If that is a source checkout, "
            "build it (`pip install -e .`) or install lrelu (`pip install .`)."
        ) from error
    for name in [name for name in sys.modules if name == "lrelu" or name.startswith("lrelu.")]:
        del sys.modules[name]           # the checkout's modules imported so far
    module = importlib.util.module_from_spec(spec)
    sys.modules["lrelu"] = module       # what `import lrelu` returns once this import ends
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["lrelu"]
        raise
    print(f"lrelu: {here} is a source checkout without compiled extensions; using the installed "
          f"lrelu in {os.path.dirname(spec.origin)}", file=sys.stderr)
