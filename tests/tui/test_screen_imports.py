"""Screens talk to the engine one way: they get the queue and a PoolControl and answer messages. No
screen (nor widget, nor the pool control) imports the app module, and the app never asks which screen
it has (issue 12, item 4). Read from the source with ast: nothing is imported or run."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "queuectl_tui"
APP = "queuectl_tui.app"


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every module (and module.name) a file imports, relative imports resolved, TYPE_CHECKING
    blocks included."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def package_files_but_the_app() -> list[Path]:
    return [path for path in sorted(PACKAGE.rglob("*.py"))
            if path.relative_to(PACKAGE).as_posix() not in ("app.py", "cli/__init__.py", "__main__.py")]


def test_no_screen_or_widget_imports_the_app_module():
    files = package_files_but_the_app()
    assert PACKAGE / "screens" / "main.py" in files and PACKAGE / "pool_control.py" in files
    importers = [str(path.relative_to(PACKAGE)) for path in files
                 if any(m == APP or m.startswith(APP + ".") for m in imported_modules(path))]
    assert importers == []


def test_the_check_would_see_an_import_of_the_app():
    # The check above would pass vacuously if relative imports were misread.
    probe = PACKAGE / "screens" / "main.py"
    assert "queuectl_tui.pool_control.PoolControl" in imported_modules(probe)
    assert "queuectl_tui.screens.detail.DetailScreen" in imported_modules(probe)
    for line in ("from ..app import QueueApp", "from .. import app", "import queuectl_tui.app",
                 "from queuectl_tui.app import QueueApp",
                 "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..app import QueueApp"):
        assert APP in imported_modules(probe, line) or APP + ".QueueApp" in imported_modules(probe, line), line


def test_the_app_never_asks_which_screen_it_has():
    tree = ast.parse((PACKAGE / "app.py").read_text())
    checks = [ast.unparse(node) for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"]
    assert checks == []


def test_one_action_quit():
    defined = [f"{path.relative_to(PACKAGE)}:{node.lineno}" for path in sorted(PACKAGE.rglob("*.py"))
               for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "action_quit"]
    assert [where.split(":")[0] for where in defined] == ["app.py"], defined
