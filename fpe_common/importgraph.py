"""The module import graph of the toolkit's packages, read from the source with ``ast``.

``python -m fpe_common.importgraph`` prints what the architecture tests check
(``tests/test_architecture.py``): import cycles (strongly connected components of the
module graph, every ``import`` counted wherever it stands, also inside functions), imports
of another package's private names (a module or name whose path has a component starting
with ``_``, or ``alias._name`` on a module imported from another package), source files
over the line limit, and the size of every package.

A module ``a.b`` is the file ``a/b.py`` (``a/__init__.py`` is ``a``). ``from a import x``
is an edge to ``a.x`` when that is a module, else to ``a``; relative imports are resolved.
Dynamic imports (``importlib.import_module("...")``) are not seen: a lazy export table is
not an import edge.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PACKAGES", "Graph", "build_graph", "cycles", "private_imports", "long_files", "main"]

#: the packages of this repository, bottom layer first
PACKAGES = ("fpe_common", "fpe_theory", "fpe_empirical", "validation", "paper_figures")
#: the line limit of a source file (tests excepted)
MAX_LINES = 500


@dataclass(frozen=True)
class PrivateUse:
    """``module`` (line ``line``) uses ``target``, a private name of another package."""

    module: str
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} -> {self.target}"


@dataclass
class Graph:
    """Modules (name -> file), import edges (name -> names) and private cross-package uses."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    edges: dict[str, set[str]] = field(default_factory=dict)
    private: list[PrivateUse] = field(default_factory=list)

    def lines(self, module: str) -> int:
        return len(self.files[module].read_text(encoding="utf-8").splitlines())

    def package(self, module: str) -> str:
        return module.split(".")[0]


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_private(dotted: str) -> bool:
    return any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in dotted.split("."))


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` inside ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def build_graph(root: str | Path = ".", packages: Sequence[str] = PACKAGES) -> Graph:
    """Parse every ``*.py`` of ``packages`` under ``root`` into a ``Graph``."""
    root = Path(root).resolve()
    g = Graph(root)
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            g.files[_module_name(root, path)] = path
    for mod, path in g.files.items():
        g.edges[mod] = set()
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        foreign: dict[str, str] = {}  # local alias -> module of another package
        for node in ast.walk(tree):
            found: list[tuple[str, str | None, str | None]] = []  # (module, imported name, alias)
            if isinstance(node, ast.Import):
                for a in node.names:
                    found.append((a.name, None, a.asname or a.name.split(".")[0]))
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_pkg, node.level, node.module)
                for a in node.names:
                    found.append((base, a.name, a.asname or a.name))
            for target, name, alias in found:
                full = f"{target}.{name}" if name else target
                dest = full if full in g.files else target
                if dest in g.files:
                    if dest != mod:
                        g.edges[mod].add(dest)
                elif dest.split(".")[0] not in packages:
                    continue
                if dest.split(".")[0] == mod.split(".")[0]:
                    continue
                if _is_private(full if name != "*" else target):
                    g.private.append(PrivateUse(mod, node.lineno, full))
                if name is None or full in g.files:
                    foreign[alias] = full if name else target
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in foreign and _is_private(node.attr)):
                g.private.append(PrivateUse(mod, node.lineno, f"{foreign[node.value.id]}.{node.attr}"))
    return g


def cycles(g: Graph) -> list[list[str]]:
    """Every import cycle: the strongly connected components of more than one module
    (Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:  # iterative Tarjan: deep graphs must not hit the recursion limit
        nonlocal counter
        work = [(v, iter(sorted(g.edges.get(v, ()))))]
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g.edges.get(w, ())))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))

    for v in sorted(g.files):
        if v not in index:
            visit(v)
    return sorted(out, key=lambda c: (-len(c), c))


def private_imports(g: Graph) -> list[PrivateUse]:
    """Uses of another package's private modules or names, in file order."""
    return sorted(set(g.private), key=lambda p: (p.module, p.line, p.target))


def long_files(g: Graph, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """``(module, lines)`` of every file over ``limit`` lines, longest first."""
    sizes = [(m, g.lines(m)) for m in g.files]
    return sorted(((m, n) for m, n in sizes if n > limit), key=lambda x: -x[1])


def _summary(g: Graph, limit: int) -> dict:
    per_pkg: dict[str, list[int]] = {}
    for m in g.files:
        per_pkg.setdefault(g.package(m), []).append(g.lines(m))
    return {
        "packages": {p: {"files": len(v), "lines": sum(v)} for p, v in sorted(per_pkg.items())},
        "files": len(g.files),
        "lines": sum(sum(v) for v in per_pkg.values()),
        "edges": sum(len(e) for e in g.edges.values()),
        "cycles": cycles(g),
        "private_imports": [str(p) for p in private_imports(g)],
        "long_files": [[m, n] for m, n in long_files(g, limit)],
    }


def main(argv: Iterable[str] | None = None) -> int:
    """Print the summary; exit 1 when there is a cycle or a private cross-package import."""
    p = argparse.ArgumentParser(prog="python -m fpe_common.importgraph", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=".", help="repository root (default: the current folder)")
    p.add_argument("--max-lines", type=int, default=MAX_LINES)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = p.parse_args(None if argv is None else list(argv))
    s = _summary(build_graph(args.root), args.max_lines)
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        for pkg, v in s["packages"].items():
            print(f"{pkg:14s} {v['files']:4d} files {v['lines']:7d} lines")
        print(f"{'total':14s} {s['files']:4d} files {s['lines']:7d} lines, {s['edges']} import edges")
        print(f"cycles: {len(s['cycles'])}")
        for c in s["cycles"]:
            print("  " + " <-> ".join(c))
        print(f"private cross-package imports: {len(s['private_imports'])}")
        for u in s["private_imports"]:
            print("  " + u)
        print(f"files over {args.max_lines} lines: {len(s['long_files'])}")
        for m, n in s["long_files"]:
            print(f"  {m} {n}")
    return 1 if s["cycles"] or s["private_imports"] else 0


if __name__ == "__main__":
    sys.exit(main())
