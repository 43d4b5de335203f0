"""Open the built documentation in headless Chromium, from disk, as a reader would:

- the index and an API page render (their DOM, after JavaScript, holds what they must);
- the search page, which searches in JavaScript, finds ``leaky_relu_backward`` and links its
  API page first;
- no internal link of any page is broken: every relative href and src names a file of the
  build, and every #fragment an id on that page;
- a screenshot of the index is kept in the build, ``_screenshots/index.png``.

    python tools/check_docs_browser.py docs/_build/html [--chromium chromium]

Exit status 0 if all hold, 1 with one line per failure otherwise.
"""

import argparse
import html.parser
import pathlib
import subprocess
import sys
import urllib.parse

SEARCHED = "leaky_relu_backward"
API_PAGE = "api/generated/lrelu.leaky_relu_backward.html"


def chromium(binary, *arguments, timeout=120):
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--virtual-time-budget=15000", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def dom(binary, url):
    result = chromium(binary, "--dump-dom", url)
    if result.returncode != 0 or "<html" not in result.stdout:
        raise SystemExit(f"chromium could not open {url}: {result.stderr.strip()[-500:]}")
    return result.stdout


class Links(html.parser.HTMLParser):
    """The ids a page defines and the relative links it makes."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            value = attrs.get(key)
            if value and not urllib.parse.urlsplit(value).scheme and not value.startswith("//"):
                self.links.append(value)


def broken_links(root):
    pages = {}
    for path in root.rglob("*.html"):
        if {"_static", "_sources"} & set(path.relative_to(root).parts):
            continue     # the theme's template fragments and page sources, not pages
        parser = Links()
        parser.feed(path.read_text(encoding="utf-8"))
        pages[path.resolve()] = parser
    broken = []
    for path, parser in pages.items():
        for link in parser.links:
            parts = urllib.parse.urlsplit(link)
            target = (path.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(root.resolve())}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                if target in pages and urllib.parse.unquote(parts.fragment) not in pages[target].ids:
                    broken.append(f"{path.relative_to(root.resolve())}: {link} (no such anchor)")
    return len(pages), sum(len(p.links) for p in pages.values()), broken


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", type=pathlib.Path, help="the HTML build directory")
    parser.add_argument("--chromium", default="chromium")
    args = parser.parse_args()
    root = args.build.resolve()
    failures = []

    index = dom(args.chromium, (root / "index.html").as_uri())
    for expected in ("<title>", "lrelu", "Getting started", "User guide", "API reference", "Benchmarks"):
        if expected not in index:
            failures.append(f"index.html: the rendered page lacks {expected!r}")

    api = dom(args.chromium, (root / API_PAGE).as_uri())
    # The signature's anchor, a line of the docstring and its rendered example.
    for expected in ('id="lrelu.leaky_relu_backward"', "Gradient through Leaky ReLU", "array([0.01, 0.01, 1.  ])"):
        if expected not in api:
            failures.append(f"{API_PAGE}: the rendered page lacks {expected!r}")

    search = dom(args.chromium, (root / "search.html").as_uri() + f"?q={SEARCHED}")
    results = search.split('id="search-results"', 1)[-1]
    first = results.split('<a href="', 1)[-1].split('"', 1)[0] if '<a href="' in results else ""
    if not first.startswith(API_PAGE):
        failures.append(f"search.html?q={SEARCHED}: the first result is {first or 'missing'}, not {API_PAGE}")

    count, links, broken = broken_links(root)
    failures += broken

    shots = root / "_screenshots"
    shots.mkdir(exist_ok=True)
    shot = chromium(args.chromium, f"--screenshot={shots / 'index.png'}", "--window-size=1280,900",
                    (root / "index.html").as_uri())
    if shot.returncode != 0 or not (shots / "index.png").exists():
        failures.append(f"no screenshot of the index: {shot.stderr.strip()[-300:]}")

    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"browser check: index and {API_PAGE} rendered, search for {SEARCHED} first found {first}, "
          f"{links} internal links in {count} pages checked ({len(broken)} broken), "
          f"screenshot {shots / 'index.png'}: {'FAILED' if failures else 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
