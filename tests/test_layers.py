"""The import layers hold: the import-linter contracts in pyproject.toml (the interview never
imports engine internals; `expert` imports `interview` only at the CLI's entry) are kept, and
they break when violated; and no module imports another module's private (underscore) names."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("expert", "interview", "knowledge_base", "reports")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# Private names imported across modules today, each in a module being reworked by its owner:
# listed so that no new one can join them. Remove an entry once its import is gone.
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str]] = set()


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def _lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    # --no-cache: nothing written into the tree; the config is always the project's own
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(pythonpath)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_import_contracts_are_kept() -> None:
    proc = _lint_imports(ROOT, ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in proc.stdout


def _package(root: Path, modules: dict[str, str]) -> None:
    for name, source in modules.items():
        parts = name.split(".")
        for i in range(1, len(parts)):
            init = root.joinpath(*parts[:i], "__init__.py")
            init.parent.mkdir(parents=True, exist_ok=True)
            init.touch()
        root.joinpath(*parts[:-1]).mkdir(parents=True, exist_ok=True)
        root.joinpath(*parts[:-1], parts[-1] + ".py").write_text(source, encoding="utf-8")


def test_the_contracts_break_when_a_layer_is_crossed(tmp_path: Path) -> None:
    """A miniature tree with the contracts' modules, where each contract's source imports
    every module it is forbidden, so every contract must report it; the CLI's entry is the
    one module of `expert` allowed to start the UI."""
    modules: dict[str, str] = {"expert.cli.main": "import interview.app\n"}
    for i, contract in enumerate(_contracts()):
        forbidden = [str(m) for m in contract["forbidden_modules"]]
        modules.update({m: "" for m in forbidden if m not in modules})
        for source in contract["source_modules"]:
            modules[f"{source}.crossing{i}"] = "".join(f"import {m}\n" for m in forbidden)
    modules["interview.app"] = ""
    _package(tmp_path, modules)
    proc = _lint_imports(tmp_path, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    flat = "".join(proc.stdout.split())  # lint-imports wraps long lines
    for name in (c["name"] for c in _contracts()):
        assert "".join(name.split()) + "BROKEN" in flat, proc.stdout
    assert "expert.cli.main -> interview.app" not in proc.stdout


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str, root: Path) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(source: str, module: str, root: Path) -> list[tuple[int, str]]:
    """(line, module.name) for each private name of another project module that `source`
    (the text of `module`) imports or reads as a module attribute."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    bound: dict[str, str] = {}  # a local name -> the project module it stands for
    package = module if _is_module(module + ".__init__", root) else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if _private(alias.name) and base != module:
                    found.append((node.lineno, target))
                elif _is_module(target, root):
                    bound[alias.asname or alias.name] = target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        head = alias.name.split(".")[0]
                        bound[head] = head
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        dotted = _dotted(node.value)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        if head not in bound:
            continue
        target = ".".join(filter(None, [bound[head], rest]))
        if target != module and _is_module(target, root):
            found.append((node.lineno, f"{target}.{node.attr}"))
    return found


def test_the_private_name_check_sees_each_kind_of_reach(tmp_path: Path) -> None:
    _package(tmp_path, {"expert.durations": "", "expert.sub.inner": "", "expert.user": ""})
    source = (
        "from expert.durations import _UNITS, parse\n"
        "from expert import durations\n"
        "import expert.sub.inner\n"
        "import expert.durations as d\n"
        "from .sub import inner\n"
        "from expert.user import _mine\n"
        "x = durations._UNITS, d._TABLE, expert.sub.inner._hidden, inner._deep\n"
        "y = durations.__name__, durations.parse, _mine\n"
    )
    got = sorted(target for _line, target in private_imports(source, "expert.user", tmp_path))
    assert got == [
        "expert.durations._TABLE",
        "expert.durations._UNITS",
        "expert.durations._UNITS",
        "expert.sub.inner._deep",
        "expert.sub.inner._hidden",
    ]


def test_no_module_imports_another_modules_private_names() -> None:
    seen: set[tuple[str, str]] = set()
    new: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            module = _module_name(path, ROOT)
            for line, target in private_imports(path.read_text(encoding="utf-8"), module, ROOT):
                seen.add((rel, target))
                if (rel, target) not in KNOWN_PRIVATE_IMPORTS:
                    new.append(f"{rel}:{line} uses {target}")
    assert not new, (
        "private names used outside their module; make them public in the module that "
        "defines them (or move the code there):\n" + "\n".join(new)
    )
