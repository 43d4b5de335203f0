"""The facts of this build, for show_config(): compiler, flags, NumPy and Cython versions.

setup.py writes them, as JSON in a C string, to a header that only this module includes, so
they are compiled in, and every way of building (pip install, an editable install,
`setup.py build_ext --inplace`, a wheel) carries them without writing into the source tree.
"""

import json

cdef extern from "lrelu_build_info.h":
    const char *LRELU_BUILD_INFO

BUILD_INFO = json.loads(LRELU_BUILD_INFO.decode())
