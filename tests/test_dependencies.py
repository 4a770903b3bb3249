"""Dependencies as declared (issue 17): every third-party module the packages import is named in
pyproject.toml (base dependencies or an extra), so nothing works only because another package
happened to pull it in (PyYAML used to arrive only through dask); an optional one missing gives
a clear error."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fpe_common", "fpe_theory", "fpe_empirical", "validation", "paper_figures")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the declared tomli backport
        import tomli as tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement_names(reqs) -> set[str]:
    return {_norm(re.match(r"[A-Za-z0-9_.\-]+", r.strip()).group(0)) for r in reqs}


def _imported_modules() -> dict[str, set[str]]:
    """Top-level names of every absolute import in the packages -> files importing them."""
    out: dict[str, set[str]] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for n in names:
                    out.setdefault(n.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return out


def test_every_third_party_import_is_declared():
    """Map each imported third-party module to its distribution (installed metadata; a module that
    is not installed, e.g. ``tomli`` on 3.11+, by its own name) and require it in pyproject.toml."""
    proj = _pyproject()["project"]
    declared = _requirement_names(proj["dependencies"])
    for reqs in proj["optional-dependencies"].values():
        declared |= _requirement_names(r for r in reqs if not r.startswith("fpe-toolkit"))
    dists = md.packages_distributions()
    third = {m: files for m, files in _imported_modules().items()
             if m not in sys.stdlib_module_names and m not in PACKAGES}
    assert {"numpy", "torch", "yaml"} <= set(third)
    missing = {}
    for module, files in sorted(third.items()):
        names = {_norm(d) for d in dists.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(files)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_yaml_is_an_extra_inside_all():
    extras = _pyproject()["project"]["optional-dependencies"]
    assert _requirement_names(extras["yaml"]) == {"pyyaml"}
    (all_,) = extras["all"]
    assert "yaml" in re.search(r"\[(.*)\]", all_).group(1).split(",")


def test_yaml_grid_without_pyyaml_is_a_clear_error(tmp_path, monkeypatch):
    """Without PyYAML a .yaml grid file is a ValueError saying what to install; JSON still works."""
    from fpe_empirical.grids import load_grid_file

    (tmp_path / "g.yaml").write_text("kind: dnf\n")
    (tmp_path / "g.json").write_text('{"kind": "dnf", "fixed": {"n_clauses": 3}}')
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` now fails as if not installed
    with pytest.raises(ValueError, match="pip install pyyaml"):
        load_grid_file(tmp_path / "g.yaml")
    (cfg,) = load_grid_file(tmp_path / "g.json")
    assert cfg.n_clauses == 3
