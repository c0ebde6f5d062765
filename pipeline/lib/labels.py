"""Label names of Bias in Bios: the dataset stores plain integers, the suite owns the names."""

from __future__ import annotations

# Profession ids 0-27 in the order of LabHC/bias_in_bios.
PROFESSIONS: tuple[str, ...] = (
    "accountant",
    "architect",
    "attorney",
    "chiropractor",
    "comedian",
    "composer",
    "dentist",
    "dietitian",
    "dj",
    "filmmaker",
    "interior_designer",
    "journalist",
    "model",
    "nurse",
    "painter",
    "paralegal",
    "pastor",
    "personal_trainer",
    "photographer",
    "physician",
    "poet",
    "professor",
    "psychologist",
    "rapper",
    "software_engineer",
    "surgeon",
    "teacher",
    "yoga_teacher",
)

# Gender ids as in the dataset: 0 = male, 1 = female (GENDERS[id] is the name). "Positive" in
# every metric is female. The one place the suite names genders.
GENDERS: tuple[str, ...] = ("male", "female")
FEMALE = GENDERS.index("female")  # the positive class


def occupation_name(profession: str) -> str:
    """How a bio would name the occupation in words: ``interior_designer`` -> ``interior designer``.

    The zero-shot occupation scorer reads these as continuations (`` dj`` reads as ``DJ``).
    """
    return "DJ" if profession == "dj" else profession.replace("_", " ")
