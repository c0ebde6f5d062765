"""The tiny GPT-2 of the demo and the tests, built locally so every code path is the real one.

A byte-level BPE tokenizer trained on the train bios, a small ``GPT2Config`` model briefly
pretrained as a causal LM on them (so that its zero-shot guesses beat chance), saved with
safetensors as a normal model folder. Used by the ``base_model`` stage (``model.source: tiny``)
and by the tests' fixtures.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import torch

from pipeline.lib import paths
from pipeline.lib.io import atomic_dir
from pipeline.lib.params import TinyModelParams
from pipeline.lib.progress import progress_bar

EOS = "<|endoftext|>"


def train_tokenizer(texts: list[str], vocab_size: int):
    """Train a GPT-2-style byte-level BPE tokenizer on ``texts``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS], show_progress=False
    )
    with tempfile.TemporaryDirectory() as tmp:
        bpe.save_model(tmp)
        tokenizer = GPT2TokenizerFast(
            vocab=str(Path(tmp) / "vocab.json"), merges=str(Path(tmp) / "merges.txt")
        )
    tokenizer.model_max_length = 1024
    return tokenizer


def build_tiny_model(texts: list[str], tiny: TinyModelParams, seed: int):
    """Return ``(model, tokenizer)``: a small GPT-2 briefly pretrained on ``texts``."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    tokenizer = train_tokenizer(texts, tiny.vocab_size)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=tiny.n_positions,
        n_embd=tiny.n_embd,
        n_layer=tiny.n_layer,
        n_head=tiny.n_head,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    max_length = min(tiny.max_length, tiny.n_positions)
    encoded = tokenizer([text + EOS for text in texts], truncation=True, max_length=max_length)[
        "input_ids"
    ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=tiny.learning_rate, weight_decay=0.01)
    steps = tiny.pretrain_steps
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: (
            min(1.0, (step + 1) / warmup)
            * 0.5
            * (1 + math.cos(math.pi * min(step, steps) / max(steps, 1)))
        ),
    )
    rng = np.random.default_rng(seed)
    model.train()
    order = rng.permutation(len(encoded))
    cursor = 0
    with progress_bar(total=steps, desc="pretrain tiny GPT-2", unit="step") as bar:
        for _ in range(steps):
            if cursor + tiny.batch_size > len(order):
                order, cursor = rng.permutation(len(encoded)), 0
            batch = [encoded[i] for i in order[cursor : cursor + tiny.batch_size]]
            cursor += tiny.batch_size
            width = max(len(ids) for ids in batch)
            input_ids = torch.full((len(batch), width), tokenizer.eos_token_id)
            labels = torch.full((len(batch), width), -100)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, ids in enumerate(batch):
                input_ids[row, : len(ids)] = torch.tensor(ids)
                labels[row, : len(ids)] = torch.tensor(ids)
                mask[row, : len(ids)] = 1
            loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.update()
    model.eval()
    return model, tokenizer


def save_tiny_model(texts: list[str], tiny: TinyModelParams, seed: int, out_dir: Path) -> None:
    """Build the tiny GPT-2 and save it (safetensors) atomically into ``out_dir``."""
    model, tokenizer = build_tiny_model(texts, tiny, seed)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        reference = {"source": "tiny", "name_or_path": None, "revision": None}
        (tmp / paths.BASE_REFERENCE_FILE).write_text(
            json.dumps(reference, indent=2, sort_keys=True) + "\n"
        )
