"""Ledger rows of the MiniLM docstring task: one per @digits vision claim, and the fine-tune finding."""

from __future__ import annotations

import pytest

from validation.catalogue import get_claims
from validation.ledger import FINDING, NotRun
from validation.run import Context


class _Store:
    def __init__(self, root):
        self.root = root


def test_every_digits_vision_claim_has_a_minilm_row():
    claims = {c.id: c for c in get_claims()}
    digits = [cid[:-len("@digits")] for cid, c in claims.items()
              if cid.endswith("@digits") and any(n.startswith("vision.") for n in c.needs)]
    assert digits
    for base in digits:
        row = claims[f"{base}@minilm-docstrings"]
        assert (row.statement, row.rule, row.needs) == (claims[f"{base}@digits"].statement,
                                                        claims[f"{base}@digits"].rule, claims[f"{base}@digits"].needs)
        assert "Offline stand-in" not in row.note
    finding = claims["minilm.ffn-expansion-finetune@minilm-docstrings"]
    assert finding.category == FINDING


def test_rows_are_not_run_without_the_embeddings(tmp_path):
    ctx = Context("tiny", _Store(tmp_path))
    with pytest.raises(NotRun, match="fpe_empirical.text_embed"):
        ctx.dataset("minilm-docstrings")
    claims = {c.id: c for c in get_claims()}
    with pytest.raises(NotRun, match="fpe_empirical.text_embed"):
        claims["vision.fpe-beats-dense-small@minilm-docstrings"].evaluate(ctx)
    with pytest.raises(NotRun, match="fine-tuning runs are missing"):
        claims["minilm.ffn-expansion-finetune@minilm-docstrings"].evaluate(ctx)
    path = tmp_path / "data" / "minilm-docstrings" / "embeddings.safetensors"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert ctx.dataset("minilm-docstrings") == str(path)
