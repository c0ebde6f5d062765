"""English gendered words: counting them, swapping them and removing them from a bio.

Used by the pronoun-rule baseline (:func:`count_gendered`) and by the counterfactual probes
(:func:`swap_gender`, :func:`remove_gender`). Case is kept: ``He`` -> ``She``, ``HIS`` -> ``HER``.

The ambiguous words are decided by a small POS-free heuristic on the neighbouring words:

- ``her`` is a possessive determiner (-> ``his`` / ``their``) when the next word is a content word
  ("her degree", "her own"); it is an object (-> ``him`` / ``them``) before punctuation, the end of
  the text, or a function word ("reach her through", "describe her as", "gave her the"), and
  after a verb that takes a bare infinitive ("let her work", "helped her grow").
- ``his`` is a determiner (-> ``her`` / ``their``) before a content word and a pronoun
  (-> ``hers`` / ``theirs``) before punctuation, the end or a function word ("the idea was his").

Names are never changed: the probes measure how much a model reads gendered *words*; a model
that reads first names keeps its answer. Removal turns pronouns into singular *they* with the
verb agreement fixed (``she is`` -> ``they are``, ``he enjoys`` -> ``they enjoy``), drops titles
(``Ms. Tanaka`` -> ``Tanaka``), turns gendered nouns into neutral ones (``husband`` -> ``spouse``)
and drops ``male`` / ``female``.
"""

from __future__ import annotations

import re

from pipeline.lib.contract import ProbeVariant

# Swap pairs (lower case). Both directions are derived; ambiguous words are handled in code.
_PAIRS: tuple[tuple[str, str], ...] = (
    ("he", "she"),
    ("himself", "herself"),
    ("mr", "ms"),
    ("man", "woman"),
    ("men", "women"),
    ("husband", "wife"),
    ("husbands", "wives"),
    ("father", "mother"),
    ("fathers", "mothers"),
    ("son", "daughter"),
    ("sons", "daughters"),
    ("brother", "sister"),
    ("brothers", "sisters"),
    ("boy", "girl"),
    ("boys", "girls"),
    ("boyfriend", "girlfriend"),
    ("gentleman", "lady"),
    ("gentlemen", "ladies"),
    ("male", "female"),
    ("males", "females"),
    ("uncle", "aunt"),
    ("nephew", "niece"),
    ("grandfather", "grandmother"),
    ("grandson", "granddaughter"),
    ("dad", "mom"),
    ("businessman", "businesswoman"),
    ("chairman", "chairwoman"),
    ("spokesman", "spokeswoman"),
    ("actor", "actress"),
    ("waiter", "waitress"),
)
# One-way swaps: several female forms map to one male form.
_ONE_WAY = {"mrs": "mr", "mum": "dad", "hers": "his"}

SWAP: dict[str, str] = {**{m: f for m, f in _PAIRS}, **{f: m for m, f in _PAIRS}, **_ONE_WAY}
SWAP["mr"] = "ms"  # Mr -> Ms (not Mrs: nothing in a bio says the person is married)

MALE_WORDS = frozenset({m for m, _ in _PAIRS} | {"his", "him"})
FEMALE_WORDS = frozenset({f for _, f in _PAIRS} | {"her", "hers", "mrs", "mum"})
# "Miss" is a title only when capitalised and followed by a name; a verb otherwise.
TITLES = frozenset({"mr", "ms", "mrs", "miss", "mister"})

# Neutral replacements for removal; "" drops the word.
NEUTRAL: dict[str, str] = {
    "he": "they",
    "she": "they",
    "himself": "themselves",
    "herself": "themselves",
    "hers": "theirs",
    "man": "person",
    "woman": "person",
    "men": "people",
    "women": "people",
    "husband": "spouse",
    "wife": "spouse",
    "husbands": "spouses",
    "wives": "spouses",
    "father": "parent",
    "mother": "parent",
    "fathers": "parents",
    "mothers": "parents",
    "son": "child",
    "daughter": "child",
    "sons": "children",
    "daughters": "children",
    "brother": "sibling",
    "sister": "sibling",
    "brothers": "siblings",
    "sisters": "siblings",
    "boy": "child",
    "girl": "child",
    "boys": "children",
    "girls": "children",
    "boyfriend": "partner",
    "girlfriend": "partner",
    "gentleman": "person",
    "lady": "person",
    "gentlemen": "people",
    "ladies": "people",
    "male": "",
    "female": "",
    "males": "people",
    "females": "people",
    "uncle": "relative",
    "aunt": "relative",
    "nephew": "relative",
    "niece": "relative",
    "grandfather": "grandparent",
    "grandmother": "grandparent",
    "grandson": "grandchild",
    "granddaughter": "grandchild",
    "dad": "parent",
    "mom": "parent",
    "mum": "parent",
    "businessman": "businessperson",
    "businesswoman": "businessperson",
    "chairman": "chair",
    "chairwoman": "chair",
    "spokesman": "spokesperson",
    "spokeswoman": "spokesperson",
    "actress": "actor",
    "waiter": "server",
    "waitress": "server",
}

# A her/his FOLLOWED by one of these is an object/pronoun ("reach her through"), not a determiner.
_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "to",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "yet",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "of",
        "off",
        "on",
        "onto",
        "out",
        "over",
        "through",
        "to",
        "toward",
        "towards",
        "under",
        "up",
        "upon",
        "with",
        "within",
        "without",
        "about",
        "above",
        "after",
        "again",
        "against",
        "along",
        "among",
        "around",
        "back",
        "because",
        "before",
        "behind",
        "below",
        "beside",
        "between",
        "beyond",
        "down",
        "during",
        "except",
        "if",
        "like",
        "near",
        "since",
        "than",
        "then",
        "though",
        "till",
        "until",
        "when",
        "where",
        "whether",
        "while",
        "who",
        "whom",
        "whose",
        "which",
        "what",
        "why",
        "how",
        "too",
        "also",
        "well",
        "once",
        "there",
        "here",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "am",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "not",
        "never",
        "always",
        "often",
        "very",
        "just",
        "only",
        "even",
        "still",
        "all",
        "both",
        "each",
        "some",
        "any",
        "every",
        "no",
        "more",
        "most",
        "much",
        "many",
    ]
)
# Verbs taking an object and a bare infinitive: "let her work" is an object, not "let his work".
_BARE_INFINITIVE_VERBS = frozenset(
    [
        "let",
        "lets",
        "letting",
        "help",
        "helps",
        "helped",
        "helping",
        "make",
        "makes",
        "made",
        "making",
        "watch",
        "watched",
        "see",
        "saw",
        "seen",
        "hear",
        "heard",
        "have",
        "had",
    ]
)
# Adverbs that may sit between a pronoun and its verb ("she also teaches").
_ADVERBS = frozenset(
    [
        "also",
        "often",
        "currently",
        "now",
        "still",
        "recently",
        "regularly",
        "usually",
        "always",
        "never",
        "sometimes",
        "frequently",
        "occasionally",
        "previously",
        "later",
        "mainly",
        "primarily",
        "particularly",
    ]
)
_AGREE = {"is": "are", "was": "were", "has": "have", "does": "do", "isn't": "aren't"}
_NOT_VERBS = frozenset(
    [
        "this",
        "thus",
        "plus",
        "always",
        "perhaps",
        "sometimes",
        "as",
        "us",
        "across",
        "less",
        "unless",
        "its",
    ]
)

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_LEXICON = frozenset(SWAP) | frozenset(NEUTRAL) | {"his", "her", "him"} | TITLES


def _match_case(word: str, template: str) -> str:
    """``word`` in the case of ``template`` (UPPER, Title or lower)."""
    if not word:
        return word
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[0].isupper():
        return word[0].upper() + word[1:]
    return word


def _is_object_position(prev_word: str | None, next_word: str | None) -> bool:
    """True when an ambiguous her/his stands as an object/pronoun, not a determiner."""
    if prev_word is not None and prev_word.lower() in _BARE_INFINITIVE_VERBS and next_word:
        # "let her work": her is the object of "let" unless a determiner clearly follows
        return next_word.lower() not in {"own"}
    if next_word is None:
        return True
    return next_word.lower() in _FUNCTION_WORDS


def _tokens(text: str) -> list[tuple[int, int, str, str]]:
    """Words with their spans and the separator text that follows each (up to the next word)."""
    found = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    out = []
    for i, (start, end, word) in enumerate(found):
        following = text[end : found[i + 1][0]] if i + 1 < len(found) else text[end:]
        out.append((start, end, word, following))
    return out


def _next_word(tokens: list[tuple[int, int, str, str]], i: int) -> str | None:
    """The next word if only spaces separate it from token ``i`` (punctuation ends a phrase)."""
    if i + 1 < len(tokens) and tokens[i][3].strip() == "":
        return tokens[i + 1][2]
    return None


def _prev_word(tokens: list[tuple[int, int, str, str]], i: int) -> str | None:
    if i > 0 and tokens[i - 1][3].strip() == "":
        return tokens[i - 1][2]
    return None


def _is_title(tokens: list[tuple[int, int, str, str]], i: int) -> bool:
    """A title word (Mr, Ms, Mrs, Miss, Mister) capitalised and followed by a name."""
    word = tokens[i][2]
    if word.lower() not in TITLES or not word[0].isupper() or i + 1 >= len(tokens):
        return False
    separator = tokens[i][3]
    return separator.strip() in {"", "."} and tokens[i + 1][2][0].isupper()


def _split(word: str) -> tuple[str, str]:
    """``she's`` -> (``she``, ``'s``); a word without an apostrophe -> (word, "")."""
    base, apostrophe, rest = word.partition("'")
    return base, apostrophe + rest


def count_gendered(text: str) -> tuple[int, int]:
    """Counts of (female, male) gendered words in ``text``; titles count only before a name."""
    tokens = _tokens(text)
    female = male = 0
    for i, (_, _, word, _) in enumerate(tokens):
        lower = _split(word)[0].lower()
        if lower in TITLES:
            if _is_title(tokens, i):
                female += lower != "mr" and lower != "mister"
                male += lower in {"mr", "mister"}
            continue
        female += lower in FEMALE_WORDS
        male += lower in MALE_WORDS
    return female, male


def swap_gender(text: str) -> tuple[str, int]:
    """Swap every gendered word for its counterpart; return the new text and the swap count."""
    tokens = _tokens(text)
    pieces: list[str] = []
    cursor = 0
    changed = 0
    for i, (start, end, full_word, _) in enumerate(tokens):
        word, suffix = _split(full_word)
        lower = word.lower()
        if lower not in _LEXICON:
            continue
        if lower in TITLES:
            if not _is_title(tokens, i):
                continue
            new = "ms" if lower in {"mr", "mister"} else "mr"
        elif lower == "her":
            new = (
                "him"
                if _is_object_position(_prev_word(tokens, i), _next_word(tokens, i))
                else "his"
            )
        elif lower == "his":
            new = "hers" if _is_object_position(None, _next_word(tokens, i)) else "her"
        elif lower == "him":
            new = "her"
        elif lower in SWAP:
            new = SWAP[lower]
        else:
            continue
        pieces.append(text[cursor:start])
        pieces.append(_match_case(new, word) + suffix)
        cursor = end
        changed += 1
    pieces.append(text[cursor:])
    return "".join(pieces), changed


def _singular_to_plural_verb(word: str) -> str:
    """``enjoys`` -> ``enjoy``, ``teaches`` -> ``teach``, ``studies`` -> ``study`` (for *they*)."""
    lower = word.lower()
    if lower in _AGREE:
        return _match_case(_AGREE[lower], word)
    if lower in _NOT_VERBS or not lower.endswith("s") or lower.endswith(("ss", "us", "is")):
        return word
    if lower.endswith("ies") and len(lower) > 4:
        return word[:-3] + "y"
    if lower.endswith(("ches", "shes", "xes", "zes", "sses", "oes")):
        return word[:-2]
    return word[:-1]


def remove_gender(text: str) -> tuple[str, int]:
    """Replace gendered words by neutral ones; return the new text and the replacement count."""
    tokens = _tokens(text)
    words = [t[2] for t in tokens]
    # separators that go with a dropped word: a title's "." and space, an adjective's space
    drop_separator: list[set[str]] = [set() for _ in tokens]
    changed = 0
    for i, full_word in enumerate(words):
        word, suffix = _split(full_word)
        lower = word.lower()
        if lower not in _LEXICON:
            continue
        if lower in TITLES:
            if not _is_title(tokens, i):
                continue
            words[i] = ""
            drop_separator[i] = {"", "."}
        elif lower == "her":
            obj = _is_object_position(_prev_word(tokens, i), _next_word(tokens, i))
            words[i] = _match_case("them" if obj else "their", word) + suffix
        elif lower == "his":
            pronoun = _is_object_position(None, _next_word(tokens, i))
            words[i] = _match_case("theirs" if pronoun else "their", word) + suffix
        elif lower == "him":
            words[i] = _match_case("them", word) + suffix
        elif lower in {"he", "she"} and suffix.lower() == "'s":
            # "she's been" = she has -> they've; "she's a nurse" = she is -> they're
            nxt = _next_word(tokens, i)
            contraction = "they've" if nxt is not None and nxt.lower() == "been" else "they're"
            words[i] = _match_case(contraction, word)
        elif lower in {"he", "she"}:
            words[i] = _match_case("they", word) + suffix
            if not suffix:
                _fix_agreement(tokens, words, i)
        elif lower in NEUTRAL:
            words[i] = _match_case(NEUTRAL[lower], word)
            drop_separator[i] = {""} if words[i] == "" else set()
            words[i] += suffix if words[i] else ""
        else:
            continue
        changed += 1
    pieces: list[str] = []
    cursor = 0
    skip_separator = False
    for i, (start, end, _, following) in enumerate(tokens):
        pieces.append(text[cursor:start] if not skip_separator else "")
        pieces.append(words[i])
        cursor = end
        skip_separator = following.strip() in drop_separator[i]
        if drop_separator[i] and not skip_separator and not words[i]:
            # a dropped word before punctuation ("is female."): drop the space before it instead
            pieces[-2] = pieces[-2].rstrip(" ")
        if skip_separator:
            cursor = end + len(following)
            # keep the sentence capitalised when its first word was dropped ("Ms. Lee" -> "Lee")
            if i + 1 < len(tokens) and words[i + 1] and tokens[i][2][0].isupper():
                words[i + 1] = words[i + 1][0].upper() + words[i + 1][1:]
    pieces.append(text[cursor:])
    return "".join(pieces), changed


def _fix_agreement(tokens: list[tuple[int, int, str, str]], words: list[str], i: int) -> None:
    """After he/she -> they, make the verb plural, looking past one adverb ("they also teach")."""
    j = i + 1
    if _next_word(tokens, i) is None:
        return
    if j < len(tokens) and tokens[j][2].lower() in _ADVERBS and _next_word(tokens, j) is not None:
        j += 1
    if j < len(tokens) and tokens[j][2][0].islower():
        words[j] = _singular_to_plural_verb(words[j])


# The counterfactual probe variants, in display order: name -> (rewrite of a text, whether the
# rewrite flips the subject's gender). Read by the probe stage, the score CLI and the dashboard.
PROBE_VARIANTS = {
    ProbeVariant.SWAPPED: (swap_gender, True),
    ProbeVariant.REMOVED: (remove_gender, False),
}
