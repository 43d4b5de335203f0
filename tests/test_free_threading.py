"""On a free-threaded CPython (3.14t), importing lrelu leaves the GIL off: every compiled
module declares itself free-threading compatible (see setup.py for why that holds)."""

import os
import sysconfig

import pytest

from helpers import run_python


@pytest.mark.skipif(not sysconfig.get_config_var("Py_GIL_DISABLED"),
                    reason="needs a free-threaded CPython")
def test_importing_every_module_keeps_the_gil_disabled():
    # A fresh interpreter: in this one, some other test's import may already have enabled it.
    # PYTHON_GIL would override what the modules declare, so it is dropped.
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = ("import sys, lrelu, lrelu.ufuncs, lrelu._kernels, lrelu._threads; "
            "assert not sys._is_gil_enabled(), 'importing lrelu enabled the GIL'")
    result = run_python(code, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
