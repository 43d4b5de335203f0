"""When the bfloat16 loops come into being: import lrelu does not import ml_dtypes, and yet no
bfloat16 array ever reaches a ufunc before its loops exist (lrelu/_bfloat16.py). Each test
runs in a fresh interpreter, where the import order is its own."""

import pytest

from helpers import run_python

pytest.importorskip("ml_dtypes")


def _ok(code):
    out = run_python(code)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr


def test_importing_lrelu_does_not_import_ml_dtypes():
    _ok("""
        import sys, lrelu
        assert "ml_dtypes" not in sys.modules
        print("ok")
        """)


def test_ml_dtypes_imported_after_lrelu_gives_raw_ufuncs_bfloat16_loops():
    _ok("""
        import numpy as np, lrelu
        import ml_dtypes
        x = np.array([-2.0, 3.0], dtype=ml_dtypes.bfloat16)
        for result in (lrelu.ufuncs.leaky_relu(x, 0.5), lrelu.ufuncs.leaky_relu_derivative(x, 0.5),
                       lrelu.ufuncs.leaky_relu_backward(x, x, 0.5)):
            assert result.dtype == x.dtype, result.dtype
        assert lrelu.ufuncs.leaky_relu(x, 0.5).astype(np.float32).tolist() == [-1.0, 3.0]
        print("ok")
        """)


def test_ml_dtypes_imported_before_lrelu_gives_raw_ufuncs_bfloat16_loops():
    _ok("""
        import numpy as np, ml_dtypes
        import lrelu
        x = np.array([-2.0, 3.0], dtype=ml_dtypes.bfloat16)
        assert lrelu.ufuncs.leaky_relu(x, 0.5).dtype == x.dtype
        print("ok")
        """)


def test_ml_dtypes_keeps_its_own_loader_and_the_finder_leaves():
    _ok("""
        import sys, lrelu
        from lrelu import _bfloat16
        assert _bfloat16._finder in sys.meta_path
        import ml_dtypes
        assert _bfloat16._finder not in sys.meta_path
        for loader in (ml_dtypes.__loader__, ml_dtypes.__spec__.loader):
            assert not isinstance(loader, _bfloat16._Loader), loader
        import importlib.resources
        importlib.resources.files("ml_dtypes")      # the loader still serves resources
        print("ok")
        """)


def test_leaky_relu_in_place_accepts_bfloat16():
    _ok("""
        import numpy as np, lrelu, ml_dtypes
        x = np.array([-2.0, 3.0], dtype=ml_dtypes.bfloat16)
        assert lrelu.leaky_relu_(x, 0.5) is x
        assert x.astype(np.float32).tolist() == [-1.0, 3.0]
        lrelu.leaky_relu_derivative_(x, 0.5)
        assert x.astype(np.float32).tolist() == [0.5, 1.0]
        print("ok")
        """)


def test_other_ml_dtypes_types_are_still_refused_in_place():
    _ok("""
        import numpy as np, lrelu, ml_dtypes
        x = np.zeros(2, dtype=ml_dtypes.float8_e4m3fn)
        try:
            lrelu.leaky_relu_(x)
        except TypeError as exc:
            assert "float8_e4m3fn" in str(exc), exc
        else:
            raise AssertionError("float8 accepted in place")
        print("ok")
        """)
