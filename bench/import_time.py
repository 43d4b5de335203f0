"""What bfloat16 support costs at import: lrelu alone, ml_dtypes alone, ml_dtypes imported
after lrelu (lrelu/_bfloat16.py's finder registers the loops as it loads), and registering
the loops by itself. Each figure is a fresh interpreter, timed around the import statement
with NumPy already imported; the cases alternate round by round; medians and minima.

    python bench/import_time.py [ROUNDS]
"""
import statistics, subprocess, sys, tempfile
PY = sys.executable


CASES = {
    "import numpy": "import time; t=time.perf_counter(); import numpy; print(time.perf_counter()-t)",
    "import lrelu (numpy already imported)": "import numpy, time; t=time.perf_counter(); import lrelu; print(time.perf_counter()-t)",
    "import ml_dtypes (numpy already imported)": "import numpy, time; t=time.perf_counter(); import ml_dtypes; print(time.perf_counter()-t)",
    "import ml_dtypes after lrelu (loops registered by the hook)": "import numpy, lrelu, time; t=time.perf_counter(); import ml_dtypes; print(time.perf_counter()-t)",
    "registering the loops (ml_dtypes imported)": "import numpy, ml_dtypes, lrelu, time; from lrelu import ufuncs; ufuncs._USER_TYPES.clear(); t=time.perf_counter(); ufuncs._register_bfloat16(ml_dtypes.bfloat16); print(time.perf_counter()-t)",
}
res = {k: [] for k in CASES}
for r in range(int(sys.argv[1]) if len(sys.argv) > 1 else 15):
    for k in (list(CASES) if r % 2 == 0 else list(CASES)[::-1]):
        out = subprocess.run([PY, "-c", CASES[k]], capture_output=True, text=True, cwd=tempfile.gettempdir(), check=True)
        res[k].append(float(out.stdout.split()[-1]))
for k, v in res.items():
    print(f"| {k} | {statistics.median(v)*1e3:.2f} ms | min {min(v)*1e3:.2f} ms |")
