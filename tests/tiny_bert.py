"""A randomly initialised tiny BERT and tokenizer saved to a folder: stands in for
all-MiniLM-L6-v2 in tests (nothing downloads)."""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = ("the of and to a in is for array matrix plot figure axis tensor module model data frame "
         "index column value compute return parameters returns float int str list dict optional "
         "default shape size mean sum linear sparse random seed test train fit predict transform").split()


def tiny_bert_dir(folder: Path, *, seed: int = 0, layers: int = 2, hidden: int = 16, intermediate: int = 32) -> Path:
    """Write a tiny BertModel + BertTokenizerFast (word-level vocabulary) into ``folder``."""
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers,
                                  num_attention_heads=2, intermediate_size=intermediate, max_position_embeddings=64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.BertModel(cfg)
        with torch.no_grad():  # non-zero biases, as in a pretrained model (BERT initialises them to 0)
            for name, p in model.named_parameters():
                if name.endswith("bias"):
                    p.normal_(0.0, 0.02)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder
