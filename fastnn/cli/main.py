"""The ``fastnn`` command: the parser of every subcommand and the error policy.

Every failure the user can cause (a missing file, a bad CSV row, an unknown
TOML key, a hyperparameter out of range) ends as one line on stderr,
``fastnn <command>: error: <what is wrong>``, and exit code 2; a gradient
check that fails exits with 1.  Tracebacks are for bugs only.  A warning
is one line too, ``fastnn <command>: warning: <what>``, on stderr.
"""
import argparse
import difflib
import os
import sys
import warnings

import fastnn
from fastnn.cli import bench, demo, export, saved_model, train, tune
from fastnn.cli.errors import USAGE_ERROR, CLIError

__all__ = ["main", "build_parser"]

_COMMANDS = (demo, train, saved_model, export, tune, bench)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is one --help away)."""

    def error(self, message):
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks (they hold examples)."""


def build_parser():
    parser = _Parser(
        prog="fastnn", formatter_class=_Formatter, allow_abbrev=False,
        description="Train fully-connected neural networks on the CPU with fused C kernels.",
        epilog="Start with `fastnn demo`; `fastnn COMMAND --help` describes each command.")
    parser.add_argument("--version", action="version", version=f"fastnn {fastnn.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    def add(name, help, description):
        # no abbreviations: --epoch is a typo to report, not --epochs
        return sub.add_parser(name, help=help, description=description, formatter_class=_Formatter,
                              allow_abbrev=False)

    for module in _COMMANDS:
        module.add_parsers(add)
    parser.commands = sub.choices
    return parser


def _unknown(parser, extra):
    """The usage error for arguments ``parser`` (a command's) does not take,
    naming the flags they look like."""
    flags = [o for action in parser._actions for o in action.option_strings]
    hints = []
    for arg in extra:
        close = difflib.get_close_matches(arg.split("=")[0], flags, n=1, cutoff=0.6)
        if arg.startswith("-") and close:
            hints.append(f"{arg} (did you mean {close[0]}?)")
        else:
            hints.append(arg)
    return f"unrecognized arguments: {' '.join(hints)}"


def main(argv=None):
    """Run ``fastnn`` with ``argv`` (default: sys.argv[1:]); returns the exit code."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:          # said by the command's parser, which knows its own flags
            parser.commands[args.command].error(_unknown(parser.commands[args.command], extra))
    except SystemExit as exc:          # --help, --version and usage errors
        return exc.code
    threads = fastnn.get_num_threads()
    try:
        with warnings.catch_warnings():
            # what a warning says (a diverged run, ...) is reported by the command itself
            warnings.simplefilter("ignore", RuntimeWarning)
            # other warnings: one line each, every time (not once per process)
            warnings.simplefilter("always", UserWarning)
            warnings.showwarning = _warning_printer(args.command)
            return args.run(args) or 0
    except BrokenPipeError:
        # the reader went away (`fastnn predict ... | head`): not an error to report;
        # stdout goes to devnull so the interpreter's final flush cannot fail again
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except (CLIError, ValueError, TypeError, OSError, ImportError) as exc:
        if os.environ.get("FASTNN_TRACEBACK"):
            raise       # for debugging fastnn itself
        print(f"fastnn {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return USAGE_ERROR
    except (MemoryError, RecursionError) as exc:
        # input that asks for more than the machine has (a huge table, a
        # deeply nested file) is the input's fault, not a bug to trace
        if os.environ.get("FASTNN_TRACEBACK"):
            raise
        what = "out of memory" if isinstance(exc, MemoryError) else "input nested too deeply"
        detail = _one_line(exc)
        print(f"fastnn {args.command}: error: {what}" + (f" ({detail})" if detail else ""),
              file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"fastnn {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        # commands may set --threads; a caller running main() in-process keeps its own
        fastnn.set_num_threads(threads)


def _warning_printer(command):
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"fastnn {command}: warning: {_one_line(message)}", file=sys.stderr)
    return show


def _one_line(exc):
    text = str(exc)
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"
    return " ".join(text.split()) or type(exc).__name__
