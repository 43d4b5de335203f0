"""bfloat16 loops for lrelu's ufuncs, once ml_dtypes is imported: the loop table's user
dtypes (lrelu/_loop_table.py, USER_DTYPES).

NumPy has no bfloat16; ml_dtypes adds it as a user dtype, whose type number exists only once
ml_dtypes is imported. Importing ml_dtypes from ``import lrelu`` would cost more than the
rest of lrelu's own import (BENCHMARKS.md, "float16 and bfloat16"), so lrelu does not:

- if ml_dtypes is already imported, the rows are registered at once (a few microseconds);
- otherwise a finder on ``sys.meta_path`` waits for ml_dtypes' import and registers the rows
  right after ml_dtypes has run, before its ``import`` statement returns.

So no bfloat16 array can reach a ufunc before its loops exist: such an array needs ml_dtypes
imported first. Registering lazily from the Python API instead would let the raw ufunc,
called first, find NumPy's safe cast of bfloat16 to float32 and silently return float32.
"""

import importlib.abc
import sys
import warnings

import numpy as np

from . import ufuncs
from ._loop_table import LOOPS, USER_DTYPES

_MODULE = "ml_dtypes"


def has_loops(dtype):
    """Whether `dtype` (a numpy.dtype) is a user dtype the ufuncs have loops for (bfloat16,
    once ml_dtypes is imported); type numbers are unique in a process."""
    return dtype.num in _registered


def alpha_type(dtype):
    """The NumPy scalar type a Python alpha takes for x of `dtype`: for a registered user
    dtype, the alpha of its first row in the loop table (float32 for bfloat16, "Ef->E");
    for any other dtype, its own type."""
    entry = _registered.get(dtype.num)
    return entry[1] if entry is not None else dtype.type


# type number -> (dtype, the NumPy scalar type of its loops' alpha), per registered user dtype
_registered: dict = {}
_listeners: list = []


def on_register(listener):
    """Calls listener(dtype) for every user dtype the ufuncs have loops for: now for those
    registered, else once they are."""
    _listeners.append(listener)
    for dtype, _ in list(_registered.values()):
        listener(dtype)


def _register(module):
    """Registers the table's rows for ml_dtypes' types; never makes the user's import of
    ml_dtypes fail."""
    for code, name in USER_DTYPES.items():
        try:
            dtype = np.dtype(getattr(module, name))
            ufuncs.register_dtype(code, dtype)
            if dtype.num not in _registered:
                alpha = np.dtype(next(sig[1] for sig, *_ in LOOPS if sig[0] == code)).type
                _registered[dtype.num] = dtype, alpha
                for listener in _listeners:
                    listener(dtype)
        except Exception as exc:  # an ml_dtypes without the type, or a NumPy refusing the loops
            warnings.warn(f"lrelu: no {name} loops ({type(exc).__name__}: {exc}); {name} "
                          "arrays will be computed through NumPy's casts", RuntimeWarning,
                          stacklevel=2)


class _Loader(importlib.abc.Loader):
    """ml_dtypes' own loader, then the registration. Once ml_dtypes has run, the module and
    its spec get their own loader back, so nothing of this wrapper stays visible."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        try:
            self._loader.exec_module(module)
        finally:
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        _register(module)

    def __getattr__(self, name):    # get_resource_reader, is_package, ...
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for ml_dtypes, asks the finders after it and wraps the loader."""

    def find_spec(self, name, path=None, target=None):
        if name != _MODULE:
            return None
        finders = sys.meta_path
        following = finders[finders.index(self) + 1:] if self in finders else finders
        for finder in following:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                    uninstall()
                return spec
        return None


_finder = _Finder()


def install():
    """Registers now if ml_dtypes is imported, else when it is."""
    module = sys.modules.get(_MODULE)
    if module is not None and any(hasattr(module, name) for name in USER_DTYPES.values()):
        _register(module)
    elif _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def uninstall():
    try:
        sys.meta_path.remove(_finder)
    except ValueError:
        pass
