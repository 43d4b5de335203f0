"""The loop table: every signature lrelu's ufuncs have, as data.

One row per inner loop, (x, alpha) -> result in NumPy's type characters, as NumPy's
generate_umath.py and ufunclab write them:

- whether the backward ufuncs have it too, as "xxa->r" (grad of x's type); the unary ufuncs
  (forward and derivative) have every row, as "xa->r", and both conventions at 0 share them;
- how the loop computes: "float" in x's own type (float16 and bfloat16 in float32, rounded
  once); "converting" x (and grad) to float64 a block at a time, as the listing computes
  integer x and a float32 x with a float64 alpha; "narrowing" a float64 alpha to the float32
  alpha of bfloat16's rule;
- the C type the kernel reads x as (lrelu/_kernels.pxd: the `real` and `source` fused types).

setup.py writes one C function per row from this table (lrelu/_loops.pxi, included by
lrelu/ufuncs.pyx: NumPy's C API calls each loop through its exact C signature, so each is a
function of its own), and lrelu.ufuncs makes the ufunc rows from the same rows.

Rows are in NumPy's search order: NumPy takes the first loop every input casts to safely, so
the integer loops come first (otherwise int8 would match float16) and the float loops run
small to large, as in SciPy. "fd->d" comes before "dd->d", so that a float32 x with a float64
alpha is converted inside the loop, in parallel, rather than by NumPy's buffers, 8,192
elements at a time. bool is one byte of 0 or 1, so the unsigned char loop converts it right.
"""

LOOPS = (
    # signature  backward  loop          C type of x
    ("?d->d",    False,    "converting", "unsigned char"),
    ("bd->d",    False,    "converting", "signed char"),
    ("Bd->d",    False,    "converting", "unsigned char"),
    ("hd->d",    False,    "converting", "short"),
    ("Hd->d",    False,    "converting", "unsigned short"),
    ("id->d",    False,    "converting", "int"),
    ("Id->d",    False,    "converting", "unsigned int"),
    ("ld->d",    False,    "converting", "long"),
    ("Ld->d",    False,    "converting", "unsigned long"),
    ("qd->d",    False,    "converting", "long long"),
    ("Qd->d",    False,    "converting", "unsigned long long"),
    ("ee->e",    True,     "float",      "lrelu_half"),
    ("ff->f",    True,     "float",      "float"),
    ("fd->d",    True,     "converting", "float"),
    ("dd->d",    True,     "float",      "double"),
    ("gg->g",    True,     "float",      "long double"),
    # bfloat16's alpha is a float32 (src/half.c, the rule): a Python float alpha casts to it,
    # and "Ed->E" narrows a NumPy float64 alpha, which NumPy would not cast to float32 itself.
    ("Ef->E",    True,     "float",      "lrelu_bfloat16"),
    ("Ed->E",    True,     "narrowing",  "lrelu_bfloat16"),
)

# User dtypes: the character each has in LOOPS, and the ml_dtypes type it stands for. Their
# type numbers exist only once ml_dtypes is imported, which registers their rows then
# (lrelu/_bfloat16.py, lrelu.ufuncs.register_dtype).
USER_DTYPES = {"E": "bfloat16"}
