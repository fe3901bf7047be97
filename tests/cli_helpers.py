"""The command line run in-process, for the CLI tests."""
from fastnn.cli import main


def run(capsys, *argv):
    """(exit code, stdout, stderr) of ``fastnn argv...``."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(capsys, argv, *fragments):
    """The command fails with exit code 2 and one line on stderr naming each fragment."""
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fastnn {argv[0]}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
