"""show_config(): what this build of lrelu is and how it will run here."""

import sys

import numpy as np

from ._version import __version__
from . import _kernels, _threads

from ._build_info import BUILD_INFO   # compiled by setup.py with the build's facts


def config():
    """The facts show_config() prints, as a dict: ``show_config(mode="dicts")``."""
    openmp = _threads._openmp_info()
    simd = _kernels._simd_info()
    return {
        "lrelu": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numpy_built_against": BUILD_INFO.get("numpy"),
        "openmp": openmp["enabled"],
        "openmp_version": openmp["version"],
        "openmp_flags": BUILD_INFO.get("openmp_flags"),
        "threads": _threads.get_num_threads(),
        "cpu_limit": openmp["cpu_limit"],
        "adaptive": openmp["adaptive"],
        "parallel_threshold_bytes": openmp["parallel_threshold_bytes"],
        "forked_child": openmp["forked_child"],
        "compiler": BUILD_INFO.get("compiler"),
        "compile_args": BUILD_INFO.get("compile_args"),
        "simd_baseline": simd["baseline"],
        "simd_dispatch": simd["dispatch"],
        "simd_selected": simd["selected"],
        "stream": simd["stream"],
        "stream_threshold_bytes": simd["stream_threshold_bytes"],
        "llc_bytes": simd["llc_bytes"],
        "llc_source": simd["llc_source"],
    }


def show_config(file=None, mode="stdout"):
    """Print lrelu's version, NumPy's, OpenMP on/off, threads, the parallel threshold, the
    compiler flags, the SIMD level in use and the streaming-store threshold; with
    ``mode="dicts"``, return them as a dict instead (as ``numpy.show_config`` does)."""
    if mode == "dicts":
        return config()
    if mode != "stdout":
        raise ValueError(f"show_config: mode must be 'stdout' or 'dicts', got {mode!r}")
    c = config()
    llc = f"{c['llc_bytes'] >> 20} MiB, from {c['llc_source']}" if c["llc_bytes"] else "unknown"
    stream = (f"above {c['stream_threshold_bytes']} bytes written per call (last-level cache {llc})"
              if c["stream"] else "none for this SIMD level")
    openmp = f"on (OpenMP {c['openmp_version']}; {c['openmp_flags']})" if c["openmp"] else "off (serial build)"
    lines = [
        f"lrelu {c['lrelu']}",
        f"  python:             {c['python']}",
        f"  numpy:              {c['numpy']} (built against {c['numpy_built_against']})",
        f"  openmp:             {openmp}",
        f"  threads:            {c['threads']}" + ("  (forked child: serial)" if c["forked_child"] else "")
        + f"; CPUs this process may use: {c['cpu_limit']}"
        + ("; one thread or a team, whichever measures faster" if c["adaptive"] else ""),
        f"  parallel threshold: {c['parallel_threshold_bytes']} bytes per array",
        f"  compiler:           {c['compiler']}",
        f"  compile args:       {' '.join(c['compile_args'] or [])}",
        f"  simd:               baseline {c['simd_baseline']}; compiled for {', '.join(c['simd_dispatch']) or 'none'}; using {c['simd_selected']}",
        f"  streaming stores:   {stream}",
    ]
    print("\n".join(lines), file=file if file is not None else sys.stdout)
