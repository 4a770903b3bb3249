"""A static check that every test function asserts something (issue 17, part 1).

A test *asserts* when its body (or a helper it uses, transitively) contains

- an ``assert`` statement;
- a call of something named ``assert*`` (``np.testing.assert_allclose``,
  ``torch.testing.assert_close``, ``pd.testing.assert_frame_equal``, ``self.assertEqual``);
- ``pytest.raises`` / ``pytest.warns`` / ``pytest.deprecated_call`` / ``pytest.fail``
  (as ``pytest.X`` or imported from pytest).

A *helper* is a function defined in a test module (module level, nested in the test, or a
method of the test's class reached as ``self.X`` / ``cls.X``), or imported from another
module of the tests directory (``from test_embed import make_cifar``, ``import test_sweep``
then ``test_sweep.helper``). A helper counts when the test *refers* to it at all (called,
passed as a callback, put in a list), so ``for check in CHECKS: check(x)`` works as long as
the names appear in the test or in a helper it refers to. What a helper asserts is decided
the same way, to a fixed point, so chains of helpers across modules are followed.

Not counted: fixtures (a test must check its own result), functions of the packages under
test (a ``verify()`` that raises is not an assertion of the test), ``print``.

Run as ``python tests/assertion_guard.py [FILES...]`` (exit 1 and one line per offender), or
through ``tests/test_assertion_guard.py`` in the default test run.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

#: pytest functions that are themselves a check
PYTEST_CHECKS = frozenset({"raises", "warns", "deprecated_call", "fail"})

TESTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Offender:
    """A test function with no assertion: file, line and qualified name."""

    path: Path
    line: int
    name: str

    def __str__(self) -> str:
        return (f"{self.path}:{self.line}: {self.name} asserts nothing (no assert, pytest.raises/warns/fail, "
                f"assert_* call, or helper that asserts)")


@dataclass
class _Func:
    module: str
    qualname: str
    node: ast.AST
    cls: str | None  # enclosing class (for self.X / cls.X)
    scope: tuple[str, ...]  # qualnames of enclosing functions, innermost last
    direct: bool = False
    refs: set = field(default_factory=set)  # (module, qualname) keys, resolved


class _Module:
    def __init__(self, name: str, path: Path, tree: ast.Module):
        self.name, self.path, self.tree = name, path, tree
        self.funcs: dict[str, _Func] = {}
        self.from_imports: dict[str, tuple[str, str]] = {}  # local name -> (module, name)
        self.module_aliases: dict[str, str] = {}  # local name -> module
        self.pytest_names: set[str] = set()  # names imported from pytest that are checks
        self.pytest_aliases: set[str] = {"pytest"}


def _call_name(func: ast.AST) -> tuple[str | None, str | None]:
    """(base, attr) of a call target: ``a.b.c(...)`` -> ("a", "c"); ``f(...)`` -> (None, "f")."""
    if isinstance(func, ast.Attribute):
        base = func.value
        while isinstance(base, ast.Attribute):
            base = base.value
        return (base.id if isinstance(base, ast.Name) else None), func.attr
    if isinstance(func, ast.Name):
        return None, func.id
    return None, None


class Checker:
    """Parse test modules (and the helper modules they import from ``search_dirs``) and find
    test functions that assert nothing."""

    def __init__(self, search_dirs: Iterable[Path] = (TESTS_DIR,)):
        self.search_dirs = [Path(d) for d in search_dirs]
        self.modules: dict[str, _Module] = {}
        self.funcs: dict[tuple[str, str], _Func] = {}

    # -- loading
    def _module_path(self, name: str) -> Path | None:
        for d in self.search_dirs:
            p = d / (name.replace(".", "/") + ".py")
            if p.is_file():
                return p
        return None

    def load(self, path: Path, name: str | None = None) -> _Module:
        path = Path(path).resolve()
        name = name or path.stem
        if name in self.modules:
            return self.modules[name]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        mod = _Module(name, path, tree)
        self.modules[name] = mod
        self._collect(mod)
        return mod

    def _collect(self, mod: _Module) -> None:
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    local = a.asname or a.name
                    if node.module == "pytest":
                        if a.name in PYTEST_CHECKS:
                            mod.pytest_names.add(local)
                    else:
                        mod.from_imports[local] = (node.module, a.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "pytest":
                        mod.pytest_aliases.add(a.asname or "pytest")
                    elif a.asname:
                        mod.module_aliases[a.asname] = a.name
                    else:
                        mod.module_aliases[a.name.split(".")[0]] = a.name.split(".")[0]

        def visit(body, prefix: str, cls: str | None, scope: tuple[str, ...]):
            for node in body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    q = f"{prefix}{node.name}"
                    f = _Func(mod.name, q, node, cls, scope)
                    mod.funcs[q] = f
                    self.funcs[(mod.name, q)] = f
                    visit(node.body, q + ".", cls, scope + (q,))
                elif isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.", f"{prefix}{node.name}", scope)
                else:  # defs under if / try / with at any level
                    for attr in ("body", "orelse", "finalbody", "handlers"):
                        sub = getattr(node, attr, None)
                        if isinstance(sub, list):
                            visit(sub, prefix, cls, scope)

        visit(mod.tree.body, "", None, ())

    # -- analysis
    def _own_nodes(self, f: _Func):
        """The nodes of ``f``'s body, not descending into nested defs (they are helpers of
        their own, counted only when referred to)."""
        stack = list(ast.iter_child_nodes(f.node))
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                # decorators and defaults belong to the enclosing function
                stack.extend(getattr(node, "decorator_list", []))
                continue
            yield node
            stack.extend(ast.iter_child_nodes(node))

    def _resolve_name(self, mod: _Module, f: _Func, name: str, depth: int = 0):
        for q in reversed(f.scope + (f.qualname,)):  # nested helpers, innermost first
            key = (mod.name, f"{q}.{name}")
            if key in self.funcs:
                return key
        if (mod.name, name) in self.funcs:
            return (mod.name, name)
        return self._resolve_import(mod, name, depth)

    def _resolve_import(self, mod: _Module, name: str, depth: int = 0):
        if name not in mod.from_imports or depth > 10:
            return None
        src, orig = mod.from_imports[name]
        path = self._module_path(src)
        if path is None:
            return None
        other = self.load(path, src)
        if (other.name, orig) in self.funcs:
            return (other.name, orig)
        return self._resolve_import(other, orig, depth + 1)  # re-exported

    def _analyse(self, f: _Func) -> None:
        mod = self.modules[f.module]
        for node in self._own_nodes(f):
            if isinstance(node, ast.Assert):
                f.direct = True
            elif isinstance(node, ast.Call):
                base, attr = _call_name(node.func)
                if attr is None:
                    continue
                if attr.startswith("assert"):
                    f.direct = True
                elif base in mod.pytest_aliases and attr in PYTEST_CHECKS:
                    f.direct = True
                elif base is None and attr in mod.pytest_names:
                    f.direct = True
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                key = self._resolve_name(mod, f, node.id)
                if key is not None and key != (f.module, f.qualname):
                    f.refs.add(key)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                owner = node.value.id
                if owner in ("self", "cls") and f.cls is not None:
                    key = (mod.name, f"{f.cls}.{node.attr}")
                    if key in self.funcs:
                        f.refs.add(key)
                elif owner in mod.module_aliases:
                    path = self._module_path(mod.module_aliases[owner])
                    if path is not None:
                        other = self.load(path, mod.module_aliases[owner])
                        if (other.name, node.attr) in self.funcs:
                            f.refs.add((other.name, node.attr))

    def asserting(self) -> set:
        """Keys of every loaded function that asserts, directly or through helpers (fixed point)."""
        done: set = set()
        while True:  # loading a helper module adds functions: analyse until nothing new
            todo = [k for k in self.funcs if k not in done]
            if not todo:
                break
            for k in todo:
                self._analyse(self.funcs[k])
                done.add(k)
        yes = {k for k, f in self.funcs.items() if f.direct}
        changed = True
        while changed:
            changed = False
            for k, f in self.funcs.items():
                if k not in yes and f.refs & yes:
                    yes.add(k)
                    changed = True
        return yes

    def offenders(self, paths: Iterable[Path]) -> list[Offender]:
        """Test functions (``test*`` at module level or in a ``Test*`` class) of ``paths`` that assert nothing."""
        mods = [self.load(p) for p in paths]
        yes = self.asserting()
        out = []
        for mod in mods:
            for q, f in mod.funcs.items():
                parts = q.split(".")
                is_test = parts[-1].startswith("test") and (
                    len(parts) == 1 or (len(parts) == 2 and parts[0].startswith("Test") and f.cls == parts[0]))
                if is_test and (mod.name, q) not in yes:
                    out.append(Offender(mod.path, f.node.lineno, q))
        return sorted(out, key=lambda o: (str(o.path), o.line))


def collected_files(directory: Path = TESTS_DIR) -> list[Path]:
    """The files pytest collects from ``directory`` (``test_*.py`` and ``*_test.py``, recursively)."""
    d = Path(directory)
    return sorted({*d.rglob("test_*.py"), *d.rglob("*_test.py")})


def main(argv: list[str] | None = None) -> int:
    paths = [Path(a) for a in (sys.argv[1:] if argv is None else argv)] or collected_files()
    bad = Checker([TESTS_DIR, *{p.resolve().parent for p in paths}]).offenders(paths)
    for o in bad:
        print(o)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
