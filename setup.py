"""Build lrelu's Cython extensions, with OpenMP when the compiler has it.

LRELU_OPENMP=0 forces a serial build. Otherwise a tiny OpenMP program is compiled and linked
with the compiler's flags (-fopenmp; /openmp on MSVC; -Xpreprocessor -fopenmp -lomp for Apple
clang with Homebrew's libomp); if that fails the build goes on serially, with a warning.
"""

import glob
import json
import os
import runpy
import shlex
import shutil
import sys
import sysconfig
import tempfile
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""

# Each module and the C sources compiled into it (src/ is private: its headers are not
# installed). The thread planner's state exists once, in the one module that compiles it;
# the others reach it through Cython's cimport. The SIMD loops (src/simd.c, src/half.c: one
# set of templates compiled per x86 level with target attributes, and chosen at run time,
# never -march on a whole module) go into the kernels only; the memory ceiling of `lrelu
# bench` calls the kernels' own kernel() through cimport.
SIMD_SOURCES = ["src/simd.c", "src/half.c"]
MODULES = {
    "lrelu._threads": ["src/threads.c"],
    "lrelu._kernels": SIMD_SOURCES,
    "lrelu.ufuncs": [],
    "lrelu._prelu": ["src/prelu.c"],
    "lrelu.cli._ceiling": [],
}


def write_loops(table="lrelu/_loop_table.py", target="lrelu/_loops.pxi"):
    """Write the ufuncs' inner loops, one C function per row of the loop table, which
    lrelu/ufuncs.pyx includes, with the table of (signature, backward, address) it makes its
    rows from. Written only when the text changes, so an unchanged table rebuilds nothing."""
    lines = [f"# Written by setup.py from {table}: one inner loop per row. Do not edit.", ""]
    rows = runpy.run_path(table)["LOOPS"]
    for k, (_, _, kind, ctype) in enumerate(rows):
        lines.append(f"cdef void _loop_{k}(char** a, npy_intp* d, npy_intp* s, void* p) noexcept nogil: "
                     f"_{kind}_loop(<{ctype}*>NULL, a, d, s, p)")
    lines += ["", "cdef list _LOOP_TABLE = ["]
    lines += [f"    ({sig!r}, {backward}, <size_t>_loop_{k})," for k, (sig, backward, _, _) in enumerate(rows)]
    lines += ["]", ""]
    write_if_changed(target, "\n".join(lines))


def write_if_changed(path, text):
    """Write text to path unless it holds it already: an unchanged file keeps its time, so
    the build does not redo what depends on it."""
    with open(path, "a+") as f:
        f.seek(0)
        if f.read() != text:
            f.seek(0)
            f.truncate()
            f.write(text)


write_loops()


def _openmp_candidates(compiler):
    if compiler.compiler_type == "msvc":
        return [(["/openmp"], [])]
    if sys.platform == "darwin":
        return [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    return [(["-fopenmp"], ["-fopenmp"])]


def _probe_openmp(compiler):
    """The first (compile, link) flags that build and link an OpenMP program, or None."""
    # The extensions link with LDFLAGS (setuptools adds it to the shared-object linker), but
    # link_executable does not: without it the probe could not see a keg-only Homebrew libomp
    # that LDFLAGS=-L... points at, and a macOS wheel would silently come out serial.
    ldflags = shlex.split(os.environ.get("LDFLAGS", "")) if compiler.compiler_type != "msvc" else []
    for cflags, lflags in _openmp_candidates(compiler):
        tmp = tempfile.mkdtemp(prefix="lrelu-omp-")
        try:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(OPENMP_PROBE)
            objects = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
            compiler.link_executable(objects, "probe", output_dir=tmp, extra_preargs=ldflags,
                                     extra_postargs=lflags)
            return cflags, lflags
        except Exception:
            continue
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return None


class BuildExt(build_ext):
    def build_extensions(self):
        compiler_type = self.compiler.compiler_type
        if compiler_type == "msvc":
            base = ["/O2"]
        else:
            # -fno-trapping-math lets gcc vectorize the select in src/contig.h.
            base = ["-O3", "-fno-trapping-math"]

        want = os.environ.get("LRELU_OPENMP", "1").strip().lower() not in ("0", "false", "no", "off")
        omp = _probe_openmp(self.compiler) if want else None
        if not want:
            print("lrelu: LRELU_OPENMP=0, building a serial lrelu (one thread per call)", file=sys.stderr)
        elif omp is None:
            warnings.warn("lrelu: the compiler has no working OpenMP (on macOS: brew install libomp); "
                          "building serially. Set LRELU_OPENMP=0 to silence this.")
            print("lrelu: WARNING: no OpenMP found, building a serial lrelu", file=sys.stderr)
        cflags, lflags = omp if omp else ([], [])
        for ext in self.extensions:
            ext.extra_compile_args = base + cflags + ext.extra_compile_args
            ext.extra_link_args = lflags + ext.extra_link_args

        info = {
            "compiler": compiler_type + (" " + os.path.basename(self.compiler.compiler[0])
                                         if getattr(self.compiler, "compiler", None) else ""),
            # what the compiler really got: Python's own flags, CFLAGS from the environment, ours
            "compile_args": base + cflags + os.environ.get("CFLAGS", "").split(),
            "openmp_flags": f"compile {' '.join(cflags)}, link {' '.join(lflags)}" if omp else None,
            "numpy": np.__version__,
            "cython": __import__("Cython").__version__,
            "platform": sysconfig.get_platform(),
        }
        write_build_info(self, info)
        super().build_extensions()


extensions = [
    Extension(
        name,
        [name.replace(".", "/") + ".pyx"] + sources,
        include_dirs=[np.get_include(), "lrelu/include", "src"],
        # the SIMD templates live in headers (src/contig.h): a change there rebuilds the loops
        depends=sorted(glob.glob("src/*.h") + glob.glob("lrelu/include/*.h")),
        # Built against NumPy 2, the binary must load on every NumPy that pyproject.toml's
        # dependency allows (numpy>=1.23): pin the C API it may use to that oldest version
        # rather than the build NumPy's default, which newer releases raise.
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION"),
                       ("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION")],
    )
    for name, sources in MODULES.items()
]


# ---- The tools' part of the build: build facts (issue 10) --------------------------------------
# lrelu._build_info holds the facts show_config() prints, compiled in from a header that
# BuildExt writes into build_temp. A _build_info.py written beside the build missed
# `setup.py build_ext --inplace`, which builds elsewhere and copies back only extensions;
# an extension reaches the package in every way of building.
BUILD_INFO_DIR = "lrelu-build-info"


def write_build_info(command, info):
    """Write the header lrelu/_build_info.pyx includes, only when its text changes, and point
    that extension at it. Every extension depends on it: build/ keeps object files between
    builds, and without that, LRELU_OPENMP=0 after an OpenMP build relinked the old OpenMP
    objects; an unchanged build still rebuilds nothing."""
    directory = os.path.join(command.build_temp, BUILD_INFO_DIR)
    header = os.path.join(directory, "lrelu_build_info.h")
    literal = json.dumps(info).replace("\\", "\\\\").replace('"', '\\"')
    text = f'/* Written by setup.py: this build\'s facts. */\nstatic const char LRELU_BUILD_INFO[] = "{literal}";\n'
    os.makedirs(directory, exist_ok=True)
    write_if_changed(header, text)
    for ext in command.extensions:
        ext.depends.append(header)
        if ext.name == "lrelu._build_info":
            ext.include_dirs.append(directory)


extensions += [
    Extension(name, [name.replace(".", "/") + ".pyx"], include_dirs=include_dirs, depends=list(depends))
    for name, include_dirs, depends in [
        ("lrelu._build_info", [], []),
    ]
]
# ---- end of the tools' part ---------------------------------------------------------------

setup(
    ext_modules=cythonize(
        extensions,
        # freethreading_compatible: importing lrelu on a free-threaded CPython (3.14t) keeps the
        # GIL off. The module state allows it: the ufunc loop tables, the SIMD choice and the
        # ufunc objects are written once at import and only read after; the team guard is an
        # atomic; the thread count is one aligned int that the nogil kernels already read while
        # other threads set it (so the GIL build has the same race, last writer wins); the
        # parallel-region counter changes only under the team guard; floating-point flags are
        # per thread. Each call keeps its state on its own stack.
        compiler_directives={"language_level": "3", "embedsignature": True,
                             "freethreading_compatible": True},
    ),
    cmdclass={"build_ext": BuildExt},
)
