"""K-class scoring (occupation): the zero-shot class scorer and a K-label classifier.

Each is checked against an independent computation on a small GPT-2 built here (a few seconds,
so these tests need no background build): the zero-shot scorer against one plain forward pass
per bio and name, the classifier against its own logits for each bio scored alone.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2ForSequenceClassification

from pipeline.lib.batch_scoring import ClassifierScorer, ZeroShotClassScorer, predict_probs
from pipeline.lib.errors import SuiteError
from pipeline.lib.labels import PROFESSIONS
from pipeline.lib.params import TinyModelParams
from pipeline.lib.runtime import CPU
from pipeline.lib.synthetic_sample import generate_sample
from pipeline.lib.tiny_gpt2 import build_tiny_model

# Small and quick to pretrain, yet its next-token guesses are far from uniform.
TINY = TinyModelParams(
    vocab_size=600,
    n_layer=2,
    n_head=2,
    n_embd=32,
    n_positions=128,
    pretrain_steps=40,
    batch_size=8,
    learning_rate=3e-3,
    max_length=96,
)
TEMPLATE = "{text} This person works as a"
MAX_LENGTH = 48  # below many bios' length: some prompts are cut
NAMES = [name.replace("_", " ") for name in PROFESSIONS]  # display names, as a caller passes
K = len(NAMES)


@pytest.fixture(scope="module")
def bios() -> list[str]:
    return generate_sample({"train": 300}, seed=7)["train"]["hard_text"].tolist()


@pytest.fixture(scope="module")
def lm_and_tokenizer(bios):
    return build_tiny_model(bios, TINY, seed=0)


@pytest.fixture(scope="module")
def texts(bios) -> list[str]:
    # Varied lengths, one far longer than the budget, one short.
    return [*bios[:9], " ".join(bios[9:13]), "She paints."]


def name_ids(tokenizer, name: str) -> list[int]:
    return tokenizer(f" {name}")["input_ids"]


def brute_force_log_probs(model, prompt: list[int], continuation: list[int]) -> float:
    """Summed log-prob of ``continuation`` after ``prompt``: one plain forward, no 4D mask."""
    with torch.inference_mode():
        logits = model(torch.tensor([[*prompt, *continuation]])).logits[0].double()
    log_probs = torch.log_softmax(logits, dim=-1)
    start = len(prompt)
    return sum(log_probs[start + i - 1, token].item() for i, token in enumerate(continuation))


def expected_prompt(tokenizer, text: str, budget: int) -> list[int]:
    """The template around the bio's LAST ``budget`` tokens, tokenized part by part."""
    prefix, suffix = TEMPLATE.split("{text}")
    assert prefix == ""
    return [*tokenizer(text)["input_ids"][-budget:], *tokenizer(suffix)["input_ids"]]


def score(scorer, ids: list[list[int]]) -> torch.Tensor:
    """One batch scored as predict_probs scores it (inference mode)."""
    with torch.inference_mode():
        return scorer.score(ids, CPU)


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def summed_log_probs(lm_and_tokenizer, texts) -> np.ndarray:
    """(bios, names) summed log-probabilities, computed one bio and one name at a time."""
    model, tokenizer = lm_and_tokenizer
    budget = MAX_LENGTH - len(tokenizer(TEMPLATE.split("{text}")[1])["input_ids"])
    return np.array(
        [
            [
                brute_force_log_probs(
                    model, expected_prompt(tokenizer, text, budget), name_ids(tokenizer, name)
                )
                for name in NAMES
            ]
            for text in texts
        ]
    )


def zero_shot(lm_and_tokenizer, length="sum") -> ZeroShotClassScorer:
    model, tokenizer = lm_and_tokenizer
    return ZeroShotClassScorer(model, tokenizer, TEMPLATE, NAMES, MAX_LENGTH, length=length)


# --- the zero-shot class scorer -------------------------------------------------------------


def test_zero_shot_class_probabilities_match_one_forward_per_name(
    lm_and_tokenizer, texts, summed_log_probs
):
    _, tokenizer = lm_and_tokenizer
    lengths = [len(name_ids(tokenizer, name)) for name in NAMES]
    assert max(lengths) >= 2 and min(lengths) < max(lengths)  # multi-token names, unequal
    scorer = zero_shot(lm_and_tokenizer)
    encoded = scorer.encode(texts)
    assert encoded.truncated.any() and not encoded.truncated.all()
    got = score(scorer, encoded.ids)
    assert got.shape == (len(texts), K) and got.dtype == torch.float32
    expected = softmax(summed_log_probs)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(got.sum(-1).numpy(), 1.0, rtol=0, atol=1e-5)
    # The name with the higher summed log-probability wins: the top one, and of every pair
    # whose sums are clearly apart, the higher one.
    assert got.argmax(-1).tolist() == summed_log_probs.argmax(-1).tolist()
    apart = summed_log_probs[:, :, None] - summed_log_probs[:, None, :] > 1e-3
    assert apart.any()
    got_gap = got.numpy()[:, :, None] - got.numpy()[:, None, :]
    assert (got_gap[apart] > 0).all()


def test_mean_length_divides_each_name_by_its_token_count(
    lm_and_tokenizer, texts, summed_log_probs
):
    _, tokenizer = lm_and_tokenizer
    counts = np.array([len(name_ids(tokenizer, name)) for name in NAMES])
    scorer = zero_shot(lm_and_tokenizer, length="mean")
    got = score(scorer, scorer.encode(texts).ids).numpy()
    expected = softmax(summed_log_probs / counts)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # Per token is not the sum: the two pick another name for some bio.
    assert (got.argmax(-1) != summed_log_probs.argmax(-1)).any()


def test_a_long_bio_keeps_its_last_tokens_and_the_template(lm_and_tokenizer, texts):
    _, tokenizer = lm_and_tokenizer
    scorer = zero_shot(lm_and_tokenizer)
    suffix = tokenizer(" This person works as a")["input_ids"]
    longest = texts[9]
    ids = scorer.encode([longest]).ids[0]
    assert len(ids) == MAX_LENGTH
    assert ids == [*tokenizer(longest)["input_ids"][-(MAX_LENGTH - len(suffix)) :], *suffix]


def test_zero_shot_class_scorer_refuses_what_it_cannot_score(lm_and_tokenizer):
    model, tokenizer = lm_and_tokenizer
    longest = max(len(name_ids(tokenizer, name)) for name in NAMES)
    limit = TINY.n_positions - longest
    ZeroShotClassScorer(model, tokenizer, TEMPLATE, NAMES, limit)  # fits exactly
    cases = [
        (dict(max_length=limit + 1), f"set predict.max_length <= {limit}"),
        (dict(template="no slot"), "must contain {text} exactly once"),
        (dict(names=["nurse"]), "1 class names given"),
        (dict(names=["nurse", " "]), "class name ' ' is blank"),
        (dict(names=["nurse", "poet", "nurse"]), "class name 'nurse' is given twice"),
        (dict(length="max"), "length = 'max'; expected 'sum' or 'mean'"),
    ]
    for change, message in cases:
        kwargs = {"template": TEMPLATE, "names": NAMES, "max_length": MAX_LENGTH, **change}
        length = kwargs.pop("length", "sum")
        with pytest.raises(SuiteError) as err:
            ZeroShotClassScorer(model, tokenizer, **kwargs, length=length)
        assert message in str(err.value) and "\n" not in str(err.value)


# --- a K-label classifier -------------------------------------------------------------------


def classifier(tokenizer, num_labels: int):
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=TINY.n_positions,
        n_embd=TINY.n_embd,
        n_layer=TINY.n_layer,
        n_head=TINY.n_head,
        num_labels=num_labels,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    return GPT2ForSequenceClassification(config).eval()


@pytest.fixture(scope="module")
def padded_tokenizer(lm_and_tokenizer):
    tokenizer = copy.deepcopy(lm_and_tokenizer[1])  # the zero-shot tests' one stays as built
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def test_classifier_with_k_classes_is_the_softmax_of_its_logits(padded_tokenizer, texts):
    model = classifier(padded_tokenizer, K)
    scorer = ClassifierScorer(model, padded_tokenizer, MAX_LENGTH, classes=K)
    encoded = scorer.encode(texts)
    got = score(scorer, encoded.ids)
    assert got.shape == (len(texts), K) and got.dtype == torch.float32
    np.testing.assert_allclose(got.sum(-1).numpy(), 1.0, rtol=0, atol=1e-6)
    with torch.inference_mode():
        alone = [torch.softmax(model(torch.tensor([ids])).logits[0], -1) for ids in encoded.ids]
    np.testing.assert_allclose(got.numpy(), torch.stack(alone).numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("num_labels", "classes"), [(K, 5), (2, K), (K, None)])
def test_classifier_label_count_mismatch_is_one_line(padded_tokenizer, num_labels, classes):
    model = classifier(padded_tokenizer, num_labels)
    with pytest.raises(SuiteError) as err:
        ClassifierScorer(model, padded_tokenizer, MAX_LENGTH, classes=classes)
    expected = 2 if classes is None else classes
    assert str(err.value) == f"classifier has {num_labels} labels; expected {expected}"


# --- predict_probs: (n, K) rows in the original order ---------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3, "n"])
def test_predict_probs_returns_class_rows_in_the_original_order(
    lm_and_tokenizer, padded_tokenizer, texts, summed_log_probs, batch_size
):
    size = len(texts) if batch_size == "n" else batch_size
    scorer = zero_shot(lm_and_tokenizer)
    got = predict_probs(scorer.encode(texts), scorer, CPU, size, progress=False)
    assert got.shape == (len(texts), K) and got.dtype == np.float64
    np.testing.assert_allclose(got, softmax(summed_log_probs), rtol=0, atol=1e-5)

    model = classifier(padded_tokenizer, K)
    head = ClassifierScorer(model, padded_tokenizer, MAX_LENGTH, classes=K)
    encoded = head.encode(texts)
    got = predict_probs(encoded, head, CPU, size, progress=False)
    with torch.inference_mode():
        alone = [torch.softmax(model(torch.tensor([ids])).logits[0], -1) for ids in encoded.ids]
    np.testing.assert_allclose(got, torch.stack(alone).numpy(), rtol=0, atol=1e-6)
