"""What to install to build and test lrelu, from a pyproject.toml, one requirement a line.

    python requirements.py PYPROJECT --skip REGEX        # with the [test] extra, less REGEX's
    python requirements.py PYPROJECT --only "REQ REQ"    # with the REQs instead of the extra

Always the build requirements and the dependencies; the [test] extra has its lrelu[...]
self-references expanded. Used by check_freethreaded.sh and check_aarch64.sh, under the
interpreter they test (the standard library only), so it reads the export's pyproject.toml.
"""
import re
import sys
import tomllib

path, how, arg = sys.argv[1:]
with open(path, "rb") as f:
    project = tomllib.load(f)
extras = project["project"]["optional-dependencies"]


def expand(extra):   # an extra, with lrelu[...] self-references expanded
    for r in extras[extra]:
        m = re.fullmatch(r"lrelu\[(.+)\]", r.replace(" ", ""))
        yield from (x for e in m.group(1).split(",") for x in expand(e)) if m else [r]


wanted = project["build-system"]["requires"] + project["project"]["dependencies"]
if how == "--skip":
    wanted += [r for r in expand("test") if not re.match(arg, r)]
elif how == "--only":
    wanted += arg.split()
else:
    sys.exit(f"requirements.py: {how}: expected --skip or --only")
print("\n".join(sorted(set(wanted))))
