"""The house rules of fastnn's Python code, read from its source with ast:
no module reaches into another module's private names, and callbacks see the
model only through its public API."""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "fastnn"
# private by name only, public by documentation; argparse has no public list
# of a parser's options (the command line's "did you mean" reads it)
ALLOWED = {"os._exit", "sys._getframe", "parser._actions"}


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def own_names(tree):
    """Names a module defines itself: its functions, classes, module and
    attribute assignments (``self._x = ...``, ``obj._x = ...``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def foreign_private_uses(path, root=PACKAGE.parent):
    tree = ast.parse(path.read_text(), str(path))
    own = own_names(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        text = ast.unparse(node)
        if node.attr in own or text in ALLOWED:
            continue
        found.append(f"{path.relative_to(root)}:{node.lineno}: {text}")
    for node in ast.walk(tree):
        # a private name imported from another module (public names of the
        # private extension modules, fastnn._validation and the like, are fine)
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: from {node.module} "
                                 f"import {alias.name}")
    return found


def test_the_rule_sees_a_foreign_private_name(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom fastnn._validation import all_finite\n"
                     "from fastnn.tune.runners import _load\n\n\n"
                     "class A:\n    def f(self, model, other):\n"
                     "        self._own = other._own\n        os._exit(0)\n"
                     "        return model._snapshot()\n")
    assert foreign_private_uses(probe, tmp_path) == [
        "probe.py:10: model._snapshot", "probe.py:3: from fastnn.tune.runners import _load"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_touches_another_modules_private_names(path):
    assert foreign_private_uses(path) == []


def test_callbacks_use_the_public_model_only():
    tree = ast.parse((PACKAGE / "callbacks.py").read_text())
    uses = {ast.unparse(node) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and ast.unparse(node.value) == "self.model"}
    assert uses and not [u for u in uses if u.split(".")[-1].startswith("_")], uses
