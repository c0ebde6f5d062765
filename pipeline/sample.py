"""Deterministic synthetic Bias-in-Bios-shaped bios: the project's own offline sample.

The rows are SYNTHETIC: made from templates by this module, never scraped. They have the real
dataset's columns (``hard_text``, ``profession`` 0-27, ``gender`` 0 male / 1 female), its
professions with realistic frequencies and shares of women, realistic lengths (median about 70
GPT-2 tokens, a tail past 250) and a few percent of hard cases: first-person bios, bios without
pronouns, bios that use only the person's name, and they/them bios.

Run ``python -m pipeline.sample OUT.parquet --rows 1000`` to write one split to a file.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.labels import PROFESSIONS

# Per profession: (share of women, relative frequency). Shares follow De-Arteaga et al. (2019);
# frequencies are rounded from the real dataset (professor is by far the largest class).
PROFESSION_STATS: dict[str, tuple[float, float]] = {
    "accountant": (0.37, 1.4),
    "architect": (0.24, 2.6),
    "attorney": (0.39, 8.2),
    "chiropractor": (0.27, 0.7),
    "comedian": (0.22, 0.7),
    "composer": (0.17, 1.4),
    "dentist": (0.35, 3.7),
    "dietitian": (0.93, 1.0),
    "dj": (0.14, 0.4),
    "filmmaker": (0.33, 1.8),
    "interior_designer": (0.81, 0.4),
    "journalist": (0.50, 5.0),
    "model": (0.83, 1.9),
    "nurse": (0.91, 4.8),
    "painter": (0.46, 2.0),
    "paralegal": (0.85, 0.5),
    "pastor": (0.24, 0.6),
    "personal_trainer": (0.46, 0.4),
    "photographer": (0.36, 6.0),
    "physician": (0.50, 10.0),
    "poet": (0.49, 1.8),
    "professor": (0.45, 29.8),
    "psychologist": (0.62, 4.6),
    "rapper": (0.10, 0.4),
    "software_engineer": (0.16, 1.7),
    "surgeon": (0.15, 3.4),
    "teacher": (0.60, 4.1),
    "yoga_teacher": (0.85, 0.4),
}

# Writing styles and their shares: the hard cases are the last four.
STYLES = ("third_person", "first_person", "no_pronouns", "name_only", "they_them")
STYLE_WEIGHTS = (0.90, 0.03, 0.03, 0.02, 0.02)

FEMALE_NAMES = [
    "Mary",
    "Anna",
    "Emma",
    "Olivia",
    "Sophia",
    "Laura",
    "Sarah",
    "Jessica",
    "Emily",
    "Rachel",
    "Hannah",
    "Julia",
    "Grace",
    "Chloe",
    "Megan",
    "Priya",
    "Aisha",
    "Mei",
    "Elena",
    "Lucia",
    "Fatima",
    "Ingrid",
    "Claire",
    "Nora",
    "Maria",
    "Susan",
    "Karen",
    "Linda",
    "Amy",
]
MALE_NAMES = [
    "James",
    "John",
    "Robert",
    "Michael",
    "David",
    "William",
    "Richard",
    "Thomas",
    "Daniel",
    "Matthew",
    "Andrew",
    "Joshua",
    "Ryan",
    "Kevin",
    "Brian",
    "Rahul",
    "Ahmed",
    "Wei",
    "Marco",
    "Luis",
    "Omar",
    "Lars",
    "Pierre",
    "Hans",
    "Peter",
    "George",
    "Paul",
    "Mark",
    "Eric",
]
NEUTRAL_NAMES = [
    "Alex",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Robin",
    "Sam",
    "Drew",
    "Avery",
    "Quinn",
]
SURNAMES = [
    "Smith",
    "Johnson",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Lee",
    "Patel",
    "Nguyen",
    "Kim",
    "Chen",
    "Silva",
    "Rossi",
    "Novak",
    "Schmidt",
    "Dubois",
    "Okafor",
    "Haddad",
    "Tanaka",
    "Kowalski",
    "Murphy",
    "Cohen",
]
CITIES = [
    "Chicago",
    "Boston",
    "Seattle",
    "Austin",
    "Denver",
    "Toronto",
    "London",
    "Sydney",
    "Atlanta",
    "Portland",
    "Dublin",
    "San Diego",
    "New York",
    "Melbourne",
    "Vancouver",
    "Philadelphia",
    "Minneapolis",
    "Nashville",
]


@dataclass(frozen=True)
class _Profession:
    field: tuple[str, ...]
    work: tuple[str, ...]
    place: tuple[str, ...]


def _p(field: str, work: str, place: str) -> _Profession:
    return _Profession(tuple(field.split("|")), tuple(work.split("|")), tuple(place.split("|")))


# Domain vocabulary per profession. The first sentence of a real bio names the occupation and
# is removed in ``hard_text``; these phrases are the cues that remain, as in the real data.
VOCAB: dict[str, _Profession] = {
    "accountant": _p(
        "tax planning|auditing|financial reporting|forensic accounting",
        "prepares tax returns for small businesses|audits the books of nonprofit organisations"
        "|advises clients on budgeting and payroll|reconciles accounts for family firms",
        "a regional accounting firm|a Big Four firm|a credit union",
    ),
    "architect": _p(
        "sustainable design|urban housing|historic restoration|commercial buildings",
        "designs energy-efficient homes|leads projects from concept sketches to construction"
        "|restores landmark buildings|plans mixed-use developments",
        "a design studio|an architecture practice|a planning office",
    ),
    "attorney": _p(
        "litigation|family law|intellectual property|criminal defense|real estate law",
        "represents clients in civil disputes|handles contract negotiations"
        "|argues cases before the appellate court|advises companies on compliance",
        "a law firm|the public defender's office|a boutique litigation practice",
    ),
    "chiropractor": _p(
        "spinal care|sports injuries|chiropractic rehabilitation|posture correction",
        "treats back and neck pain|helps athletes recover from injuries"
        "|uses gentle spinal adjustments|teaches patients exercises for posture",
        "a wellness clinic|a family chiropractic practice|a sports medicine center",
    ),
    "comedian": _p(
        "stand-up comedy|improv|sketch writing|satire",
        "tours clubs across the country|hosts a weekly comedy podcast"
        "|writes jokes about everyday life|performed a special that streamed worldwide",
        "comedy clubs|a late-night show|festivals",
    ),
    "composer": _p(
        "film scoring|chamber music|orchestral works|electronic music",
        "writes scores for films and games|composes works for string quartet"
        "|has had pieces performed by major orchestras|arranges music for choirs",
        "a conservatory|a recording studio|a music publisher",
    ),
    "dentist": _p(
        "general dentistry|cosmetic dentistry|pediatric dentistry|orthodontics",
        "provides preventive care and fillings|places dental implants"
        "|treats patients of all ages|focuses on painless dental care",
        "a family dental practice|a dental clinic|a community health center",
    ),
    "dietitian": _p(
        "clinical nutrition|sports nutrition|weight management|diabetes education",
        "creates meal plans for patients|counsels clients on healthy eating"
        "|works with people managing diabetes|teaches nutrition classes",
        "a hospital nutrition department|a private nutrition practice|a wellness center",
    ),
    "dj": _p(
        "house music|hip hop mixing|radio shows|club nights",
        "plays sets at clubs and festivals|hosts a weekly radio mix"
        "|produces remixes|spins records at weddings and events",
        "nightclubs|a radio station|music festivals",
    ),
    "filmmaker": _p(
        "documentary film|independent cinema|short films|screenwriting",
        "directs documentaries about social issues|wrote and directed an award-winning short"
        "|produces independent features|edits films that screened at festivals",
        "a production company|film festivals|an independent studio",
    ),
    "interior_designer": _p(
        "residential interiors|hospitality design|space planning|color and textiles",
        "transforms homes into calm, functional spaces|designs boutique hotel interiors"
        "|selects furniture, lighting and fabrics|renovates kitchens and living rooms",
        "a design firm|a home staging company|an interiors studio",
    ),
    "journalist": _p(
        "investigative reporting|political news|science writing|local news",
        "covers politics and elections|writes about technology and business"
        "|has reported from conflict zones|edits the features section",
        "a daily newspaper|a news website|a public radio station",
    ),
    "model": _p(
        "fashion|runway|commercial print|editorial shoots",
        "has walked runways in Paris and Milan|appears in campaigns for fashion brands"
        "|shoots editorials for magazines|works with leading photographers",
        "a modeling agency|fashion week|magazines",
    ),
    "nurse": _p(
        "critical care|pediatric nursing|emergency nursing|oncology nursing",
        "cares for patients in the intensive care unit|coordinates patient discharge"
        "|educates families about treatment|works night shifts in the emergency department",
        "a children's hospital|a regional medical center|a home health agency",
    ),
    "painter": _p(
        "oil painting|abstract art|watercolor|portraiture",
        "paints large abstract canvases|exhibits work in galleries"
        "|paints landscapes of the coast|teaches painting workshops",
        "a gallery|an artist studio|an art collective",
    ),
    "paralegal": _p(
        "litigation support|corporate law|legal research|document review",
        "drafts pleadings and motions|manages case files and deadlines"
        "|assists attorneys with trial preparation|conducts legal research",
        "a law firm|a corporate legal department|a legal aid office",
    ),
    "pastor": _p(
        "ministry|pastoral care|preaching|community outreach",
        "leads Sunday worship|counsels families in the congregation"
        "|runs youth and outreach programs|preaches on faith and service",
        "a community church|a Baptist congregation|a Lutheran parish",
    ),
    "personal_trainer": _p(
        "strength training|weight loss coaching|functional fitness|athletic conditioning",
        "designs workout programs for clients|coaches small group classes"
        "|helps clients reach their fitness goals|trains athletes for competition",
        "a fitness studio|a gym|a sports club",
    ),
    "photographer": _p(
        "wedding photography|portraits|landscape photography|photojournalism",
        "shoots weddings and family portraits|captures landscapes at dawn"
        "|photographs events and products|has had images published in magazines",
        "a photography studio|a newspaper|a creative agency",
    ),
    "physician": _p(
        "internal medicine|family medicine|pediatrics|cardiology",
        "sees patients in a busy primary care clinic|treats chronic illness"
        "|focuses on preventive medicine|is board certified and accepts new patients",
        "a university hospital|a medical group|a community clinic",
    ),
    "poet": _p(
        "poetry|spoken word|literary translation|creative writing",
        "has published three collections of poems|performs spoken word across the country"
        "|writes poems about memory and place|teaches poetry workshops",
        "literary journals|a small press|a writers' residency",
    ),
    "professor": _p(
        "economics|computer science|history|chemistry|sociology|mathematics",
        "teaches undergraduate and graduate courses|leads a research group"
        "|has published widely in peer-reviewed journals|supervises doctoral students",
        "the university|a state university|a research institute",
    ),
    "psychologist": _p(
        "clinical psychology|cognitive behavioral therapy|child psychology|trauma",
        "provides therapy for anxiety and depression|conducts psychological assessments"
        "|works with children and families|researches resilience after trauma",
        "a private practice|a counseling center|a hospital behavioral health unit",
    ),
    "rapper": _p(
        "hip hop|rap|music production|lyric writing",
        "released a mixtape that went viral|tours with a live band"
        "|writes verses about growing up in the city|collaborates with producers",
        "an independent label|music festivals|a recording studio",
    ),
    "software_engineer": _p(
        "backend systems|machine learning|web development|distributed systems",
        "builds scalable web services|writes code in Python and Go"
        "|designs data pipelines|contributes to open source projects",
        "a tech startup|a software company|a cloud provider",
    ),
    "surgeon": _p(
        "orthopedic surgery|cardiac surgery|general surgery|neurosurgery",
        "performs minimally invasive procedures|specializes in joint replacement"
        "|operates on patients with complex conditions|trains surgical residents",
        "a teaching hospital|a surgical center|a trauma center",
    ),
    "teacher": _p(
        "elementary education|high school mathematics|special education|English",
        "teaches third grade|coaches the debate team"
        "|creates engaging lessons for students|mentors new teachers",
        "an elementary school|a public high school|a middle school",
    ),
    "yoga_teacher": _p(
        "vinyasa yoga|hatha yoga|meditation|prenatal yoga",
        "leads yoga classes and retreats|teaches breathing and meditation"
        "|guides students of every level|trains new yoga instructors",
        "a yoga studio|a wellness retreat|a community center",
    ),
}

# Sentence templates. {S}/{s} subject, {o} object, {p} possessive, {r} reflexive, {N} name.
BODY = (
    "{S} has over {years} years of experience in {field}.",
    "{S} {work}.",
    "{S} currently works at {place} in {city}.",
    "{S} received {p} degree from {school} and later trained in {field2}.",
    "{S} also {work2}.",
    "{S} is passionate about {field} and about helping others.",
    "In {p} free time, {s} enjoys {hobby}.",
    "{S} lives in {city} with {p} {family}.",
    "Colleagues describe {o} as thoughtful, patient and precise.",
    "{S} has been recognised with several awards for {p} work in {field}.",
    "{S} often speaks at conferences about {field}.",
    "{S} considers {r} lucky to do work {s} loves.",
    "{N} is a member of several professional associations.",
    "{S} believes that good work starts with listening.",
    "{S} volunteers with local organisations and mentors young people.",
    "You can reach {o} through {p} website.",
)
FIRST_PERSON = (
    "I have over {years} years of experience in {field}.",
    "I {work_1p}.",
    "I currently work at {place} in {city}.",
    "My training is in {field2}, which I studied at {school}.",
    "In my free time I enjoy {hobby}.",
    "I believe that good work starts with listening.",
    "I live in {city} and love what I do.",
    "Feel free to contact me through my website.",
)
HOBBIES = [
    "hiking",
    "cooking",
    "reading mystery novels",
    "running marathons",
    "gardening",
    "playing the piano",
    "travelling",
    "photography",
    "cycling",
    "painting",
    "chess",
    "sailing",
    "baking bread",
]
SCHOOLS = [
    "the University of Michigan",
    "Boston University",
    "the University of Toronto",
    "Stanford",
    "the University of Texas",
    "King's College London",
    "McGill University",
    "NYU",
    "UCLA",
]
PRONOUNS = {
    "male": {"s": "he", "o": "him", "p": "his", "r": "himself"},
    "female": {"s": "she", "o": "her", "p": "her", "r": "herself"},
    "they": {"s": "they", "o": "them", "p": "their", "r": "themselves"},
}
FAMILY = {
    "male": ("wife and two children", "partner", "family", "husband", "two sons"),
    "female": ("husband and two children", "partner", "family", "wife", "two daughters"),
    "they": ("partner", "family", "two dogs"),
}


def _first_person(sentence: str, be: str = "am") -> str:
    # "works at" -> "work at" for first-person bios: only the work phrases need the fix.
    head, _, rest = sentence.partition(" ")
    verb = {"has": "have", "does": "do", "is": be}.get(head)
    if verb is not None:
        return f"{verb} {rest}"
    if head.endswith("ies"):
        return f"{head[:-3]}y {rest}"
    if head.endswith(("ches", "shes", "sses", "xes")):
        return f"{head[:-2]} {rest}"
    if head.endswith("s"):
        return f"{head[:-1]} {rest}"
    return sentence


def _n_sentences(rng: np.random.Generator) -> int:
    # Lognormal around 4 sentences: median about 70 GPT-2 tokens, a tail past 250.
    return int(np.clip(round(rng.lognormal(mean=1.75, sigma=0.5)), 2, 24))


def _bio(rng: np.random.Generator, profession: str, gender: str, style: str) -> str:
    vocab = VOCAB[profession]
    first = str(rng.choice(FEMALE_NAMES if gender == "female" else MALE_NAMES))
    if style == "no_pronouns":
        first = str(rng.choice(NEUTRAL_NAMES))
    surname = str(rng.choice(SURNAMES))
    fields = rng.permutation(len(vocab.field))
    works = rng.permutation(len(vocab.work))
    slots = {
        "field": vocab.field[fields[0]],
        "field2": vocab.field[fields[1 % len(fields)]],
        "work": vocab.work[works[0]],
        "work2": vocab.work[works[1 % len(works)]],
        "place": str(rng.choice(vocab.place)),
        "city": str(rng.choice(CITIES)),
        "school": str(rng.choice(SCHOOLS)),
        "hobby": str(rng.choice(HOBBIES)),
        "years": int(rng.integers(2, 31)),
    }
    n = _n_sentences(rng)
    if style == "first_person":
        slots["work_1p"] = _first_person(slots["work"])
        order = rng.permutation(len(FIRST_PERSON))
        picked = [FIRST_PERSON[i] for i in order[: min(n, len(FIRST_PERSON))]]
        return " ".join(s.format(**slots) for s in picked)

    who = "they" if style == "they_them" else gender
    pron = PRONOUNS[who]
    slots["family"] = str(rng.choice(FAMILY[who]))
    order = rng.permutation(len(BODY))
    picked = [BODY[order[i % len(BODY)]] for i in range(n)]
    # Long bios repeat templates with fresh slot values, as real long bios repeat themselves.
    sentences = []
    for index, template in enumerate(picked):
        if style in ("no_pronouns", "name_only"):
            # Every pronoun becomes the name (or "the <profession>" now and then).
            ref = first if style == "name_only" or index % 2 == 0 else f"{first} {surname}"
            text = template.format(S=ref, s=ref, o=ref, p=f"{ref}'s", r=ref, N=ref, **slots)
        else:
            name = f"{first} {surname}" if rng.random() < 0.5 else first
            if who == "they":
                template = template.replace("{S} has", "{S} have").replace("{S} is", "{S} are")
                template = template.replace("{S} lives", "{S} live").replace(
                    "{S} {work}", "{S} {workp}"
                )
                template = template.replace("{S} also {work2}", "{S} also {work2p}")
                template = template.replace("{S} currently works", "{S} currently work")
                template = template.replace("{S} often speaks", "{S} often speak")
                template = template.replace("{S} considers", "{S} consider")
                template = template.replace("{S} believes", "{S} believe")
                template = template.replace("{S} volunteers", "{S} volunteer")
                template = template.replace("{s} loves", "{s} love").replace(
                    "{s} enjoys", "{s} enjoy"
                )
                slots["workp"] = _first_person(slots["work"], be="are")
                slots["work2p"] = _first_person(slots["work2"], be="are")
            text = template.format(
                S=pron["s"].capitalize(),
                s=pron["s"],
                o=pron["o"],
                p=pron["p"],
                r=pron["r"],
                N=name,
                **slots,
            )
        sentences.append(text)
        slots["years"] = int(rng.integers(2, 31))
        slots["city"] = str(rng.choice(CITIES))
    if style == "third_person" and rng.random() < 0.35:
        title = {"male": "Mr.", "female": "Ms."}[gender]
        sentences.insert(0, f"{title} {surname} {slots['work']}.")
    return " ".join(sentences)


def generate_split(rows: int, seed: int) -> pd.DataFrame:
    """Return ``rows`` synthetic bios with the columns of ``LabHC/bias_in_bios``."""
    rng = np.random.default_rng(seed)
    weights = np.array([PROFESSION_STATS[p][1] for p in PROFESSIONS])
    profession_ids = rng.choice(len(PROFESSIONS), size=rows, p=weights / weights.sum())
    shares = np.array([PROFESSION_STATS[p][0] for p in PROFESSIONS])
    genders = (rng.random(rows) < shares[profession_ids]).astype(np.int64)
    styles = rng.choice(len(STYLES), size=rows, p=STYLE_WEIGHTS)
    texts = [
        _bio(rng, PROFESSIONS[prof], ("male", "female")[gen], STYLES[style])
        for prof, gen, style in zip(profession_ids, genders, styles, strict=True)
    ]
    return pd.DataFrame(
        {
            "hard_text": texts,
            "profession": profession_ids.astype(np.int64),
            "gender": genders,
        }
    )


def generate_sample(sizes: dict[str, int], seed: int) -> dict[str, pd.DataFrame]:
    """Return every split of the sample; each split has its own stream derived from ``seed``."""
    streams = np.random.SeedSequence(seed).spawn(len(sizes))
    return {
        split: generate_split(rows, int(stream.generate_state(1)[0]))
        for (split, rows), stream in zip(sizes.items(), streams, strict=True)
    }


def main() -> None:
    """Write one synthetic split to a parquet file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="parquet file to write")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from pipeline.io import write_parquet

    write_parquet(generate_split(args.rows, args.seed), args.out)


if __name__ == "__main__":
    main()
