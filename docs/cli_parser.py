"""The ``lrelu`` command's own parser, for sphinx-argparse (docs/api/cli.rst).

sphinx-argparse reads help strings as reStructuredText, where ``|`` opens a substitution
(``|V2``, NumPy's name for raw 2-byte values, would become a broken link), so the help is
escaped here; the command line itself is lrelu.cli._parser, unchanged.
"""

import argparse

from lrelu.cli import _parser


def _escape(parser):
    for action in parser._actions:
        if action.help and action.help is not argparse.SUPPRESS:
            action.help = action.help.replace("|", r"\|")
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _escape(subparser)
    return parser


def parser():
    return _escape(_parser())
