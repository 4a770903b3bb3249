"""Write a ``Report`` as ``report.md`` (a table plus per-claim details) and ``report.json``.

``report.json``: ``{"profile", "provenance", "counts", "claims": [{id, section, category,
statement, paper_value, our_value, spread, verdict, result, reason, rule, decision, details,
command, data, note, seconds}]}``; ``counts`` is ``{category: {label: n}}`` (paper claims
reproduced / not reproduced / not run; findings confirmed / not confirmed / not run;
consistency checks passed / failed / not run: only paper claims count as reproductions) and
``result`` a row's verdict in its category's words. NaN and infinities become ``null``
(strict JSON). Both files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .ledger import CATEGORIES, NOT_REPRODUCED, PAPER_CLAIM, summary_line, verdict_label
from .run import Report, Row

__all__ = ["to_json", "to_markdown", "write_report", "DATA_LABELS"]

DATA_LABELS = {
    "theory": "closed forms / Monte Carlo",
    "dnf": "DNF (trained here)",
    "vision": "vision",
    "embeddings": "CIFAR-100 CLIP embeddings",
    "imagenet1k": "ImageNet-1k CLIP embeddings",
    "fashionmnist": "FashionMNIST (raw pixels)",
    "imagenet100": "ImageNet-100 CLIP embeddings",
}


def _mark(category: str, verdict: str) -> str:
    label = verdict_label(category, verdict)
    return f"**{label}**" if verdict == NOT_REPRODUCED else label


def _clean(x: Any) -> Any:
    """JSON-ready copy: numpy scalars/arrays unwrapped, NaN/inf -> None, tuples -> lists."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if x is None or isinstance(x, (bool, int, str)):
        return x
    return str(x)


def _data_label(row: Row) -> str:
    c = row.claim
    if "@" in c.id:
        ds = c.id.rsplit("@", 1)[1]
        return {"digits": "digits (offline stand-in)", "clip": "CIFAR-100 CLIP embeddings",
                "imagenet1k": "ImageNet-1k CLIP embeddings", "fashionmnist": "FashionMNIST (raw pixels)",
                "imagenet100": "ImageNet-100 CLIP embeddings"}.get(ds, ds)
    return row.outcome.data_label or DATA_LABELS.get(c.data, c.data)


def claim_dict(row: Row) -> dict[str, Any]:
    c, o = row.claim, row.outcome
    return _clean({
        "id": c.id,
        "section": c.section,
        "category": c.category,
        "statement": c.statement,
        "paper_value": c.paper_value,
        "our_value": o.our_value,
        "spread": o.spread,
        "verdict": o.verdict,
        "result": verdict_label(c.category, o.verdict),
        "reason": o.reason,
        "rule": c.rule,
        "decision": o.decision,
        "details": o.details,
        "command": row.command,
        "data": _data_label(row),
        "note": c.note,
        "seconds": round(row.seconds, 3),
        "error": row.error or None,
    })


def to_json(report: Report) -> dict[str, Any]:
    return _clean({
        "profile": report.profile,
        "provenance": report.provenance,
        "counts": report.counts,
        "claims": [claim_dict(r) for r in report.rows],
    })


def _cell(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        x = f"{x:.4g}"
    return str(x).replace("|", "\\|").replace("\n", " ")


def _details_md(details: dict[str, Any], depth: int = 0) -> list[str]:
    lines = []
    for k, v in details.items():
        if isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
            v = [{str(c): x for c, x in r.items()} for r in _clean(v)]
            cols = list(dict.fromkeys(c for r in v for c in r))
            lines.append(f"- {k}:")
            lines.append("")
            lines.append("  | " + " | ".join(cols) + " |")
            lines.append("  |" + "---|" * len(cols))
            for r in v[:60]:
                lines.append("  | " + " | ".join(_cell(r.get(c)) for c in cols) + " |")
            if len(v) > 60:
                lines.append(f"  (+{len(v) - 60} more rows in report.json)")
            lines.append("")
        elif isinstance(v, dict) and depth < 1:
            lines.append(f"- {k}:")
            lines.extend("  " + s for s in _details_md(v, depth + 1))
        else:
            lines.append(f"- {k}: {_cell(_clean(v)) if not isinstance(v, (dict, list)) else json.dumps(_clean(v))}")
    return lines


def to_markdown(report: Report) -> str:
    p = report.provenance
    counts = report.counts
    out = [
        f"# Validation report: the paper's claims, profile `{report.profile}`",
        "",
        f"*Expand Neurons, Not Parameters* (arXiv:2510.04500). Generated {p.get('finished_utc', '')} "
        f"at commit `{(p.get('git_commit') or 'unknown')[:12]}`{' (dirty tree)' if p.get('git_dirty') else ''}; "
        f"result store `{p.get('store')}`; configs from {p.get('configs_from')}.",
        "",
        f"**{summary_line(counts)}** ({len(report.rows)} rows). Only *paper claims* (statements the paper "
        "makes, judged under the model and setting it states) count as reproductions; *findings* are our "
        "results beyond the paper, *consistency checks* the toolkit checking itself. Each verdict follows "
        "from the numbers beside it by the rule written with the claim (see the details). Vision rows on "
        "`digits` are the offline stand-in (scikit-learn's 8x8 digits as raw pixels): their verdicts are "
        "about the stand-in, not about CIFAR-100 or ImageNet. Absolute numbers on DNF data depend on "
        "hyper-parameters the paper does not state (learning rate, regularisation strengths, data ranges "
        "and size); orderings are judged separately from absolute values.",
        "",
        f"Experiment runs: {p.get('configs_needed')} needed, {p.get('configs_missing_before')} missing before "
        f"this run, {p.get('configs_run')} run now ({p.get('experiment_seconds')} s); total {p.get('total_seconds')} s.",
        "",
    ]
    for cat in CATEGORIES:
        rows = [r for r in report.rows if r.claim.category == cat]
        if not rows:
            continue
        out += [f"## {cat[0].upper() + cat[1:]}s", "",
                "| id | section | claim | paper | ours | spread | data | verdict |",
                "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            c, o = r.claim, r.outcome
            out.append("| " + " | ".join(_cell(x) for x in (
                f"[{c.id}](#{_anchor(c.id)})", c.section, c.statement, c.paper_value, o.our_value, o.spread,
                _data_label(r))) + f" | {_mark(c.category, o.verdict)} |")
        out.append("")
    out += ["## Paper claims that did not reproduce", ""]
    bad = [r for r in report.rows if r.outcome.verdict == NOT_REPRODUCED and r.claim.category == PAPER_CLAIM]
    if not bad:
        out.append("None.")
    for r in bad:
        out.append(f"- `{r.claim.id}`: paper {_cell(r.claim.paper_value)}; ours {_cell(r.outcome.our_value)} "
                   f"({_cell(r.outcome.spread)}). {r.outcome.reason}")
    other = [r for r in report.rows if r.outcome.verdict == NOT_REPRODUCED and r.claim.category != PAPER_CLAIM]
    if other:
        out += ["", "Findings not confirmed and consistency checks failed:", ""]
        out += [f"- `{r.claim.id}` ({r.claim.category}): {_cell(r.outcome.our_value)}. {r.outcome.reason}"
                for r in other]
    out += ["", "## Details", ""]
    for r in report.rows:
        c, o = r.claim, r.outcome
        out += [
            f"### {c.id}",
            "",
            f"- section: {c.section}; category: {c.category}; data: {_data_label(r)}",
            f"- statement: {c.statement}",
            f"- paper: {_cell(c.paper_value)}",
            f"- rule (fixed before running): {c.rule}",
            f"- ours: {_cell(o.our_value)}",
            f"- spread: {_cell(o.spread)}",
            f"- verdict: **{verdict_label(c.category, o.verdict)}**: {o.reason}",
            f"- command: `{r.command}`",
        ]
        if c.note:
            out.append(f"- note: {c.note}")
        if o.decision:
            out.append(f"- decision inputs: `{json.dumps(_clean(o.decision))}`")
        if o.details:
            out.append("")
            out += _details_md(o.details)
        out.append("")
    out += ["## Provenance", "", "```json", json.dumps(_clean(p), indent=1), "```", ""]
    return "\n".join(out)


def _anchor(cid: str) -> str:
    return "".join(ch for ch in cid.lower() if ch.isalnum() or ch in "-_ ").replace(" ", "-")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_report(report: Report, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.json`` into ``out_dir`` (created); return their paths."""
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise ValueError(f"--out must be a directory, got the file {d}")
    d.mkdir(parents=True, exist_ok=True)
    md, js = d / "report.md", d / "report.json"
    _atomic_write(js, json.dumps(to_json(report), indent=1, allow_nan=False) + "\n")
    _atomic_write(md, to_markdown(report))
    return md, js
