"""Deterministic synthetic Bias-in-Bios-shaped bios: the project's own offline sample.

The rows are SYNTHETIC: made from templates by this module, never scraped. They have the real
dataset's columns (``hard_text``, ``profession`` 0-27, ``gender`` 0 male / 1 female), its
professions with realistic frequencies and shares of women, and realistic lengths (median about
70 GPT-2 tokens, a tail past 250).

They are hard in the ways real bios are hard for a language model that guesses the subject's
gender from the next word (" She" or " He"), while the cues a classifier can learn stay in the
text (first names, titles, gendered nouns, pronouns earlier in the bio). Writing styles
(``STYLES``, shares in ``STYLE_WEIGHTS``):

- ``third_person``: pronouns throughout; the first sentence often names the person ("Mary
  Smith", "Ms. Smith", "Dr. Smith"), a few sentences use the name again.
- ``other_last``: the bio ends on one to three sentences about someone else (a husband, a
  mentor, a co-author: "Her husband, David, is a pilot. He also enjoys sailing.").
- ``pronoun_fade``: pronouns at first, then the last two to four sentences carry no pronoun
  (the name, a title, "Dr. Smith", or no mention of the person at all).
- ``first_person``: "I ..." throughout; half of them give the person's name first.
- ``name_only``: the name (first, full, surname, or "Dr." + surname) and never a pronoun.
- ``title_only``: "Ms. Smith" / "Mrs. Smith" / "Mr. Smith" (and surname, "Dr.") instead of
  pronouns.
- ``they_them``: singular they.

Across styles: some bios mention another person in the middle (intro sentence plus one about
them, with their own pronoun), some carry a gendered noun about the subject ("a proud mother of
two", "started out as an actor"), some a sentence that mentions nobody ("Specialties include
..."), and some names are gender-neutral (Alex, Jordan...). ``LABEL_NOISE`` (1%) of the labels
are flipped, as pronoun-derived labels sometimes are.

The occupation task (``task="occupation"``: predict ``profession``, gender is the protected
attribute) gets one thing planted on top: ambiguity that only gender can resolve, the source of
the proxy effect of De-Arteaga et al. (2019), where a profession's TPR gap (women minus men)
rises with its share of women (r about 0.88 on the real data). Related occupations form families
(``OCCUPATION_FAMILIES``: surgeon and nurse; physician, dietitian and chiropractor; psychologist
and dentist; attorney and paralegal; architect, interior designer and painter; ...), and
``FAMILY_CUE_SHARE`` (40%) of each member's bios get their family's cues instead of their
profession's own field, work and place phrases: wording shared by the whole family ("spends most
days in the operating theatre"), which tells the family but not the member. For those bios a
classifier can only fall back on the pronouns and names, so it recognises women better in a
family's more female occupations and men in its more male ones. The planting draws from a stream
of its own: labels, genders and every other word are those of the gender sample, which
``task="gender"`` (the default) gives exactly as before. A TF-IDF + logistic regression
occupation classifier trained on 3,000 bios and scored on 4,000 (seeds 1234-1253) shows r 0.57
to 0.91 on the occupation task, significant for all 20 seeds, at about 71% accuracy; on the gender
sample r 0.14 to 0.77, 12 of 20 significant (a weaker effect from the few professions that are
nearly all women or all men), at 79% (``tests/pipeline/test_sample.py``).

Every random choice of a split is drawn at once with numpy from one ``np.random.default_rng``
and the sentences are assembled with array operations (about 60,000 bios/s on one core, measured
by ``benchmarks/bench_sample.py``: BENCHMARKS.md; the occupation task's planting adds no
measurable time). The sample of a seed changed when this generator replaced the per-bio one
(which was about 5,000 bios/s and easier: the zero-shot base sat at its ceiling).

``python -m pipeline.commands.sample OUT.parquet --rows 1000`` writes one split to a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.lib.labels import PROFESSIONS

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

# Writing styles and their shares (see the module docstring); all but the first are hard cases.
STYLES = (
    "third_person",
    "other_last",
    "pronoun_fade",
    "first_person",
    "name_only",
    "title_only",
    "they_them",
)
STYLE_WEIGHTS = (0.58, 0.20, 0.07, 0.025, 0.025, 0.08, 0.02)
# Share of labels flipped after the text is written.
LABEL_NOISE = 0.01
# Share of bios (other than ``other_last``, and with 4+ sentences) that mention another person
# in the middle.
MID_MENTION_SHARE = 0.08
# Per style: share of gender-neutral first names, and of bios with a gendered noun about the
# subject.
NEUTRAL_NAME_SHARE = (0.04, 0.04, 0.06, 0.15, 0.30, 0.10, 0.40)
GENDERED_NOUN_SHARE = (0.12, 0.12, 0.15, 0.20, 0.30, 0.20, 0.0)

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

# The tasks a sample can be made for: ``gender`` (the sample as it always was) and
# ``occupation`` (the same sample with family-level cues planted, see the module docstring).
TASKS = ("gender", "occupation")
# Occupation task: share of each family member's bios whose occupation cues are family-level.
FAMILY_CUE_SHARE = 0.4
# Families of related occupations, after the real dataset's confusions, and the cues their
# members share: wording of its own, with no word that only some members' own cues use, so it
# tells the family, not the member. Gender can only break a tie between members of comparable
# frequency: a member several times more frequent than the rest takes the family's ambiguous bios
# from women and men alike. So physician (10% of bios) is not with surgeon and nurse, nor with
# psychologist and dentist, but with dietitian and chiropractor; teacher-professor and
# attorney-paralegal are such families too, kept because the real confusions are.
# Accountant, comedian, pastor and software engineer are in no family and keep their own cues.
OCCUPATION_FAMILIES: dict[str, tuple[tuple[str, ...], _Profession]] = {
    "surgical_care": (
        ("surgeon", "nurse"),
        _p(
            "perioperative medicine|wound healing",
            "spends most days in the operating theatre"
            "|looks after people before and after their operations"
            "|is part of a busy theatre team",
            "a hospital operating suite|an ambulatory theatre suite",
        ),
    ),
    "primary_care": (
        ("physician", "dietitian", "chiropractor"),
        _p(
            "whole-person health|long-term wellbeing",
            "follows patients over many years|looks after patients with long-term conditions"
            "|keeps patients well through every stage of life",
            "a neighbourhood health office|a regional health network",
        ),
    ),
    "practice": (
        ("psychologist", "dentist"),
        _p(
            "individual treatment|long-term treatment plans",
            "sees clients by appointment|builds lasting relationships with the people who come in"
            "|takes time to listen before recommending anything",
            "an independent consulting suite|a shared consulting office",
        ),
    ),
    "law": (
        ("paralegal", "attorney"),
        _p(
            "the justice system|dispute resolution",
            "works on matters from first meeting to settlement"
            "|guides people through the justice system|spends long hours on filings and hearings",
            "a regional justice center|a small partnership",
        ),
    ),
    "design": (
        ("architect", "interior_designer", "painter"),
        _p(
            "drawing|form and proportion",
            "turns rough ideas into finished pieces|takes on commissions for private clients"
            "|fills a sketchbook before every commission",
            "a shared atelier|a converted warehouse",
        ),
    ),
    "teaching": (
        ("teacher", "professor"),
        _p(
            "pedagogy|curriculum development",
            "runs classes and tutorials|guides learners of many backgrounds"
            "|writes curricula and assessments",
            "a college|an academy",
        ),
    ),
    "fitness": (
        ("yoga_teacher", "personal_trainer"),
        _p(
            "movement|mobility and flexibility",
            "runs sessions for beginners and regulars|builds routines around each person's body"
            "|keeps people moving as they age",
            "a leisure complex|a movement space",
        ),
    ),
    "press": (
        ("journalist", "photographer"),
        _p(
            "current affairs|editorial assignments",
            "travels on assignment for editors|works to tight deadlines for national outlets"
            "|is on call whenever a story breaks",
            "a media house|a wire service",
        ),
    ),
    "screen": (
        ("filmmaker", "model"),
        _p(
            "on-camera performance|screen projects",
            "spends long days on set|is at home among crews, stylists and directors"
            "|travels for castings and location days",
            "a talent management firm|a screen talent network",
        ),
    ),
    "words_and_music": (
        ("poet", "composer", "rapper", "dj"),
        _p(
            "sound and rhythm|stagecraft",
            "appears at venues in many cities|puts out new material every year"
            "|builds a following one show at a time",
            "a performance venue|an arts venue",
        ),
    ),
}

# Titles of professions whose people are often called "Dr. <surname>".
DOCTORS = frozenset(
    {"chiropractor", "dentist", "physician", "professor", "psychologist", "surgeon"}
)
HOBBIES = (
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
)
SCHOOLS = (
    "the University of Michigan",
    "Boston University",
    "the University of Toronto",
    "Stanford",
    "the University of Texas",
    "King's College London",
    "McGill University",
    "NYU",
    "UCLA",
)
LANGUAGES = ("Spanish", "French", "Mandarin", "German", "Portuguese", "Hindi", "Arabic")
KIDS = ("two children", "three children", "two young kids", "a teenager", "twins")
# Family the subject lives with: index 0 men, 1 women, 2 they/them bios.
FAMILY = (
    ("wife and two children", "partner", "family", "husband", "two sons"),
    ("husband and two children", "partner", "family", "wife", "two daughters"),
    ("partner", "family", "two dogs"),
)
# Occupations of the other people a bio mentions.
OTHER_JOBS = (
    "a pilot",
    "an engineer",
    "a chef",
    "a musician",
    "a lawyer",
    "a nurse",
    "a teacher",
    "a firefighter",
    "an architect",
    "a writer",
    "a doctor",
    "a retired banker",
)
# Another person in a bio: relation, its share, P(the other person is of the subject's opposite
# gender), and what the bio calls them (man, woman).
RELATIONS = (
    ("spouse", 0.55, 0.92, ("husband", "wife")),
    ("partner", 0.05, 0.60, ("partner", "partner")),
    ("child", 0.08, 0.50, ("son", "daughter")),
    ("parent", 0.07, 0.50, ("father", "mother")),
    ("sibling", 0.05, 0.50, ("brother", "sister")),
    ("mentor", 0.10, 0.50, ("mentor", "mentor")),
    ("coauthor", 0.06, 0.50, ("co-author", "co-author")),
    ("cofounder", 0.04, 0.50, ("business partner", "business partner")),
)

# Sentence templates. Slots: the subject {S} (capitalised) {s} {o} {p} {P} {r}; explicit names
# {FIRSTNAME} {FULLNAME}; {v:has/have/have} a verb for he-she / they / I; {g:father/mother} a
# gendered noun for the subject (man, woman); the other person {ON} {OFULL} {OS} {op} {REL}
# {ojob}; and the vocabulary {field} {field2} {work} {work2} {place} {city} {city2} {school}
# {hobby} {family} {kids} {language} {years}.
# A subject template is one text, or a pair: the text with pronouns, and the text for bios that
# call the person by name (one subject slot: "Mary received a degree", not "Mary received Mary's").
# No sentence starts with "His" or "Her": the zero-shot words " His" and " Her" then stay rare,
# and several tokens long for the tiny model's tokenizer, as in real bios for GPT-2's.
SUBJECT = (
    "{S} {v:has/have} over {years} years of experience in {field}.",
    "{S} {work}.",
    "{S} currently {v:works/work} at {place} in {city}.",
    (
        "{S} received {p} degree from {school} and later trained in {field2}.",
        "{S} received a degree from {school} and later trained in {field2}.",
    ),
    "{S} also {work2}.",
    "{S} {v:is/are/am} passionate about {field} and about helping others.",
    (
        "In {p} free time, {s} {v:enjoys/enjoy} {hobby}.",
        "{S} {v:enjoys/enjoy} {hobby} when not at work.",
    ),
    ("{S} {v:lives/live} in {city} with {p} {family}.", "{S} {v:lives/live} in {city}."),
    "Colleagues describe {o} as thoughtful, patient and precise.",
    (
        "{S} {v:has/have} been recognised with several awards for {p} work in {field}.",
        "{S} {v:has/have} been recognised with several awards for work in {field}.",
    ),
    "{S} often {v:speaks/speak} at conferences about {field}.",
    (
        "{S} {v:considers/consider} {r} lucky to do work {s} {v:loves/love}.",
        "{S} {v:feels/feel} lucky to do this work.",
    ),
    "{S} {v:is/are/am} a member of several professional associations.",
    "{S} {v:believes/believe} that good work starts with listening.",
    "{S} {v:volunteers/volunteer} with local organisations and {v:mentors/mentor} young people.",
    ("You can reach {o} through {p} website.", "You can reach {o} through the website."),
    "{S} {v:holds/hold} a master's degree from {school}.",
    (
        "The approach {s} {v:takes/take} combines {field} with {field2}.",
        "{P} approach combines {field} with {field2}.",
    ),
    "{S} {v:has/have} been featured in local and national media.",
    "{S} {v:was/were/was} born and raised in {city}.",
    "Over the years, {s} {v:has/have} worked with clients from all walks of life.",
    (
        "{S} {v:splits/split} {p} time between {city} and {city2}.",
        "{S} {v:divides/divide} the year between {city} and {city2}.",
    ),
    "Before settling in {city}, {s} spent several years in {city2}.",
)
# Sentences that mention nobody.
NEUTRAL = (
    "Specialties include {field} and {field2}.",
    "Areas of focus: {field} and {field2}.",
    "Clients come from across {city} and beyond.",
    "Languages: English and {language}.",
    "Appointments and consultations are available on request.",
    "More information is available on the website.",
    "Education: {school}.",
    "Offices in {city} and {city2}.",
    "Memberships include several professional associations.",
    "Recent work has focused on {field2}.",
)
# A gendered noun about the subject (one subject slot each).
GENDERED = (
    "{S} {v:is/are/am} a proud {g:father/mother} of {kids}.",
    "{S} {v:was/were/was} named {g:Businessman/Businesswoman} of the Year in {city}.",
    "{S} worked as {g:a waiter/a waitress} while studying at {school}.",
    "{S} {v:is/are/am} the {g:son/daughter} of two teachers from {city}.",
    "{S} started out as {g:an actor/an actress} in {city} theatre.",
    "{S} {v:was/were/was} the first {g:man/woman} in the family to attend {school}.",
    "{S} {v:is/are/am} a {g:husband/wife} and a {g:father/mother} of {kids}.",
)
# The sentence that brings in another person, by relation (one subject slot each).
INTRODUCE = {
    "spouse": (
        "In {city}, {p} {REL} {ON} works as {ojob}.",
        "{S} {v:is/are/am} married to {ON}, {ojob}.",
    ),
    "partner": (
        "In {city}, {p} {REL} {ON} works as {ojob}.",
        "{S} {v:shares/share} a home in {city} with {OFULL}, {ojob}.",
    ),
    "child": ("In {city}, {p} {REL} {ON} works as {ojob}.",),
    "parent": ("In {city}, {p} {REL} {ON} works as {ojob}.",),
    "sibling": ("In {city}, {p} {REL} {ON} works as {ojob}.",),
    "mentor": (
        "{S} trained for years under {OFULL}, a pioneer in {field}.",
        "{S} {v:credits/credit} {OFULL}, a leader in {field}, as a mentor.",
    ),
    "coauthor": (
        "{S} {v:has/have} co-authored several papers with {OFULL}.",
        "{S} recently published a book on {field} with {OFULL}.",
    ),
    "cofounder": ("{S} co-founded {place} with {OFULL}.",),
}
# Sentences about the other person, after the introduction.
ABOUT_OTHER = (
    "{OS} is often on the road for work.",
    "{OS} also enjoys {hobby}.",
    "{OS} grew up in {city} and still visits often.",
    "{OS} is known for {op} generosity and sense of humour.",
    "{OS} has written widely on {field}.",
    "{OS} recently retired after {years} years in the profession.",
)
# First sentence of half the first-person bios.
MY_NAME = (
    "My name is {FULLNAME} and I {work}.",
    "Hi, I'm {FIRSTNAME}!",
    "I'm {FULLNAME}, and I have worked in {field} for {years} years.",
)

# Sentence kinds and subject reference modes.
_SUBJECT, _NEUTRAL, _GENDERED, _INTRODUCE, _ABOUT_OTHER, _MY_NAME = range(6)
_PRONOUN, _THEY, _I, _FIRST, _FULL, _TITLE, _SURNAME, _DR = range(8)
# Subject pronouns: rows man, woman, they, I.
_PRONOUNS = {
    "S": ("He", "She", "They", "I"),
    "s": ("he", "she", "they", "I"),
    "o": ("him", "her", "them", "me"),
    "p": ("his", "her", "their", "my"),
    "P": ("His", "Her", "Their", "My"),
    "r": ("himself", "herself", "themselves", "myself"),
}
_OTHER_PRONOUNS = {"OS": ("He", "She"), "op": ("his", "her")}
_SLOT = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class _Template:
    text: str
    # Alternating literal text and slot names: literal, slot, literal, ..., literal.
    parts: tuple[str, ...]

    @property
    def subject_slots(self) -> int:
        return sum(slot in _PRONOUNS for slot in self.parts[1::2])


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _verb_form(phrase: str, be: str) -> str:
    # "works at" -> "work at" for they / I: only the leading verb of a work phrase changes.
    head, _, rest = phrase.partition(" ")
    verb = {"has": "have", "does": "do", "is": be}.get(head)
    if verb is not None:
        return f"{verb} {rest}"
    if head.endswith("ies"):
        return f"{head[:-3]}y {rest}"
    if head.endswith(("ches", "shes", "sses", "xes")):
        return f"{head[:-2]} {rest}"
    if head.endswith("s"):
        return f"{head[:-1]} {rest}"
    return phrase


def _flat(lists) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenated values, and each list's start and length."""
    lengths = np.array([len(values) for values in lists])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return _objects([value for values in lists for value in values]), starts, lengths


# Every template in one table: kind, template.
_TABLE: list[tuple[int, _Template]] = []


def _register(kind: int, texts) -> np.ndarray:
    ids = []
    for text in texts:
        ids.append(len(_TABLE))
        _TABLE.append((kind, _Template(text, tuple(_SLOT.split(text)))))
    return np.array(ids)


_SUBJECT_IDS = _register(_SUBJECT, [t if isinstance(t, str) else t[0] for t in SUBJECT])
_SUBJECT_NAME_IDS = np.array(
    [
        i if isinstance(t, str) else _register(_SUBJECT, t[1:])[0]
        for i, t in zip(_SUBJECT_IDS, SUBJECT, strict=True)
    ]
)
_NEUTRAL_IDS = _register(_NEUTRAL, NEUTRAL)
_GENDERED_IDS = _register(_GENDERED, GENDERED)
_INTRO_IDS = [_register(_INTRODUCE, INTRODUCE[name]) for name, *_ in RELATIONS]
_ABOUT_IDS = _register(_ABOUT_OTHER, ABOUT_OTHER)
_MY_NAME_IDS = _register(_MY_NAME, MY_NAME)

# Vocabulary lists: one per profession (list = profession), then one per occupation family
# (list = len(PROFESSIONS) + family), appended so that a profession's entries keep their indices.
_PROFESSION_ARRAY = [VOCAB[name] for name in PROFESSIONS] + [
    cues for _, cues in OCCUPATION_FAMILIES.values()
]
_FAMILY_OF = {
    member: family
    for family, (members, _) in enumerate(OCCUPATION_FAMILIES.values())
    for member in members
}
# Per profession: the list of its family's cues, or -1 when it is in no family.
_FAMILY_CUES_OF = np.array(
    [len(PROFESSIONS) + _FAMILY_OF[name] if name in _FAMILY_OF else -1 for name in PROFESSIONS]
)
_FIELDS = _flat([p.field for p in _PROFESSION_ARRAY])
_WORK_3SG, _WORK_STARTS, _WORK_COUNTS = _flat([p.work for p in _PROFESSION_ARRAY])
# Work phrases per verb form: he/she, they, I.
_WORKS = np.stack(
    [
        _WORK_3SG,
        _objects([_verb_form(w, "are") for w in _WORK_3SG]),
        _objects([_verb_form(w, "am") for w in _WORK_3SG]),
    ]
)
_PLACES = _flat([p.place for p in _PROFESSION_ARRAY])
_FAMILY = _flat(FAMILY)
_YEARS = _objects([str(year) for year in range(100)])
_IS_DOCTOR = np.array([name in DOCTORS for name in PROFESSIONS])
# Second key of the occupation task's stream, next to the split's seed (any fixed number).
_OCCUPATION_STREAM = 20190127


def _pick(rng: np.random.Generator, values, size: int) -> np.ndarray:
    return rng.integers(len(values), size=size)


def _pick_within(u: np.ndarray, starts: np.ndarray, lengths: np.ndarray, group: np.ndarray):
    """Index into a flat table: a uniform pick within list ``group`` of each row."""
    return starts[group] + (u * lengths[group]).astype(np.int64)


def _pick_two(u: np.ndarray, starts: np.ndarray, lengths: np.ndarray, group: np.ndarray):
    """Two different uniform picks within list ``group`` of each row, from ``u[0]`` and ``u[1]``."""
    first = _pick_within(u[0], starts, lengths, group)
    shift = 1 + (u[1] * (lengths[group] - 1)).astype(np.int64)
    return first, starts[group] + (first - starts[group] + shift) % lengths[group]


class _Bios:
    """Every random choice of one split, drawn at once, and the sentences assembled from them."""

    def __init__(self, rows: int, rng: np.random.Generator) -> None:
        weights = np.array([PROFESSION_STATS[p][1] for p in PROFESSIONS])
        shares = np.array([PROFESSION_STATS[p][0] for p in PROFESSIONS])
        self.profession = rng.choice(len(PROFESSIONS), size=rows, p=weights / weights.sum())
        # the gender the text is written for; the label is this with LABEL_NOISE flipped
        self.gender = (rng.random(rows) < shares[self.profession]).astype(np.int64)
        self.style = rng.choice(len(STYLES), size=rows, p=np.array(STYLE_WEIGHTS))
        self.noise = rng.random(rows) < LABEL_NOISE
        self.n = np.clip(np.rint(rng.lognormal(mean=1.85, sigma=0.55, size=rows)), 2, 21).astype(
            np.int64
        )
        self._names(rows, rng)
        self._vocabulary(rows, rng)
        self._other_person(rows, rng)
        self._sentences(rows, rng)

    def _names(self, rows: int, rng: np.random.Generator) -> None:
        gendered = np.stack([_objects(MALE_NAMES), _objects(FEMALE_NAMES)])
        self.first_index = _pick(rng, MALE_NAMES, rows)
        neutral = rng.random(rows) < np.array(NEUTRAL_NAME_SHARE)[self.style]
        first = np.where(
            neutral,
            _objects(NEUTRAL_NAMES)[_pick(rng, NEUTRAL_NAMES, rows)],
            gendered[self.gender, self.first_index],
        )
        surname = _objects(SURNAMES)[_pick(rng, SURNAMES, rows)]
        title = np.where(
            self.gender == 1, np.where(rng.random(rows) < 0.35, "Mrs. ", "Ms. "), "Mr. "
        ).astype(object)
        self.neutral_name = neutral
        # Name references by mode (_FIRST, _FULL, _TITLE, _SURNAME, _DR): one row each.
        self.names = np.stack(
            [first, first + " " + surname, title + surname, surname, "Dr. " + surname]
        )

    def _vocabulary(self, rows: int, rng: np.random.Generator) -> None:
        prof = self.profession
        starts, lengths = _FIELDS[1], _FIELDS[2]
        self.field = _pick_within(rng.random(rows), starts, lengths, prof)
        # a second field, different from the first
        shift = 1 + (rng.random(rows) * (lengths[prof] - 1)).astype(np.int64)
        self.field2 = starts[prof] + (self.field - starts[prof] + shift) % lengths[prof]
        self.work = _pick_within(rng.random(rows), _WORK_STARTS, _WORK_COUNTS, prof)
        shift = 1 + (rng.random(rows) * (_WORK_COUNTS[prof] - 1)).astype(np.int64)
        self.work2 = (
            _WORK_STARTS[prof] + (self.work - _WORK_STARTS[prof] + shift) % (_WORK_COUNTS[prof])
        )
        self.place = _pick_within(rng.random(rows), _PLACES[1], _PLACES[2], prof)
        family_group = np.where(self.style == STYLES.index("they_them"), 2, self.gender)
        self.family = _pick_within(rng.random(rows), _FAMILY[1], _FAMILY[2], family_group)
        self.school = _pick(rng, SCHOOLS, rows)
        self.hobby = _pick(rng, HOBBIES, rows)
        self.kids = _pick(rng, KIDS, rows)
        self.language = _pick(rng, LANGUAGES, rows)

    def plant_family_cues(self, rng: np.random.Generator) -> None:
        """Give FAMILY_CUE_SHARE of each family member's bios its family's cues instead of its own.

        ``rng`` is a stream of its own: the draws of the sample itself stay as they were.
        """
        rows = len(self.profession)
        u = rng.random((6, rows))
        family = _FAMILY_CUES_OF[self.profession]
        self.family_cues = (family >= 0) & (u[0] < FAMILY_CUE_SHARE)
        chosen, group = self.family_cues, family[self.family_cues]
        self.field[chosen], self.field2[chosen] = _pick_two(u[1:3, chosen], *_FIELDS[1:], group)
        self.work[chosen], self.work2[chosen] = _pick_two(
            u[3:5, chosen], _WORK_STARTS, _WORK_COUNTS, group
        )
        self.place[chosen] = _pick_within(u[5, chosen], _PLACES[1], _PLACES[2], group)

    def _other_person(self, rows: int, rng: np.random.Generator) -> None:
        shares = np.array([share for _, share, _, _ in RELATIONS])
        self.relation = rng.choice(len(RELATIONS), size=rows, p=shares / shares.sum())
        opposite = rng.random(rows) < np.array([o for _, _, o, _ in RELATIONS])[self.relation]
        self.other_gender = np.where(opposite, 1 - self.gender, self.gender)
        u = rng.random(rows)
        self.intro = np.zeros(rows, dtype=np.int64)
        for relation, ids in enumerate(_INTRO_IDS):
            chosen = self.relation == relation
            self.intro[chosen] = ids[(u[chosen] * len(ids)).astype(np.int64)]
        words = _objects([w for _, _, _, pair in RELATIONS for w in pair]).reshape(-1, 2)
        self.relation_word = words[self.relation, self.other_gender]
        # never the subject's own first name: the next name on the list instead
        names = np.stack([_objects(MALE_NAMES), _objects(FEMALE_NAMES)])
        index = _pick(rng, MALE_NAMES, rows)
        index = np.where(self.first_index == index, (index + 1) % names.shape[1], index)
        self.other_first = names[self.other_gender, index]
        self.other_full = self.other_first + " " + _objects(SURNAMES)[_pick(rng, SURNAMES, rows)]
        self.other_job = _pick(rng, OTHER_JOBS, rows)
        self.about_start = _pick(rng, ABOUT_OTHER, rows)

    def _sentences(self, rows: int, rng: np.random.Generator) -> None:
        n, style = self.n, self.style
        total = int(n.sum())
        self.first_sentence = np.cumsum(n) - n
        bio = np.repeat(np.arange(rows), n)
        pos = np.arange(total) - self.first_sentence[bio]
        back = n[bio] - 1 - pos
        st = style[bio]
        is_style = {name: st == i for i, name in enumerate(STYLES)}

        # -- kinds
        kind = np.full(total, _SUBJECT, dtype=np.int64)
        other_last = style == STYLES.index("other_last")
        k_end = np.where(other_last, np.minimum(rng.integers(2, 4, size=rows), n - 1), 0)
        mid = ~other_last & (n >= 4) & (rng.random(rows) < MID_MENTION_SHARE)
        # intro at 1..n-3: the mention is followed by at least one sentence about the subject
        mid_at = np.where(mid, 1 + (rng.random(rows) * (n - 3)).astype(np.int64), -10)
        fade = np.where(
            style == STYLES.index("pronoun_fade"),
            np.minimum(rng.integers(2, 5, size=rows), n - 1),
            0,
        )
        neutral_u = rng.random(total)
        kind[(pos > 0) & (neutral_u < 0.06)] = _NEUTRAL
        tail = back < fade[bio]
        kind[tail & (neutral_u > 0.55)] = _NEUTRAL
        gendered = rng.random(rows) < np.array(GENDERED_NOUN_SHARE)[style]
        gendered_at = np.where(gendered, (rng.random(rows) * n).astype(np.int64), -10)
        kind[(pos == gendered_at[bio]) & (kind == _SUBJECT)] = _GENDERED
        kind[back < k_end[bio]] = _ABOUT_OTHER
        kind[back == k_end[bio] - 1] = _INTRODUCE
        kind[pos == mid_at[bio]] = _INTRODUCE
        kind[pos == mid_at[bio] + 1] = _ABOUT_OTHER
        # the sentence before a faded tail carries the pronoun that the tail lacks
        before_tail = (st == STYLES.index("pronoun_fade")) & (back == fade[bio])
        kind[before_tail & (kind == _NEUTRAL)] = _SUBJECT
        my_name = (style == STYLES.index("first_person")) & (rng.random(rows) < 0.5)
        kind[my_name[bio] & (pos == 0)] = _MY_NAME

        # -- how each sentence refers to the subject
        u = rng.random(total)
        doctor = _IS_DOCTOR[self.profession][bio]
        dr_or = np.where(doctor, _DR, _SURNAME)
        mode = np.full(total, _PRONOUN, dtype=np.int64)
        # third person: the first sentence often names the person; a few later ones too
        named_start = np.select([u < 0.30, u < 0.42, u < 0.47], [_FULL, _TITLE, dr_or], _PRONOUN)
        named_later = np.select([u < 0.06, u < 0.09], [_FIRST, _TITLE], _PRONOUN)
        mode = np.where(pos == 0, named_start, named_later)
        mode[is_style["they_them"]] = np.where(pos == 0, np.where(u < 0.6, _FULL, _THEY), _THEY)[
            is_style["they_them"]
        ]
        mode[is_style["first_person"]] = _I
        name_only = np.select([u < 0.4, u < 0.6, u < 0.8], [_FIRST, _FULL, _SURNAME], dr_or)
        mode[is_style["name_only"]] = np.where(pos == 0, _FULL, name_only)[is_style["name_only"]]
        title_only = np.select(
            [u < 0.6, u < 0.8], [_TITLE, _SURNAME], np.where(doctor, _DR, _TITLE)
        )
        title_first = np.where(u < 0.3, _FULL, _TITLE)
        mode[is_style["title_only"]] = np.where(pos == 0, title_first, title_only)[
            is_style["title_only"]
        ]
        faded = np.select(
            [u < 0.35, u < 0.5, u < 0.7, u < 0.85], [_FIRST, _FULL, _TITLE, _SURNAME], dr_or
        )
        mode[tail] = faded[tail]
        mode[before_tail] = _PRONOUN
        # after a mention of someone else, the bio comes back to the subject by name
        back_to = (pos == mid_at[bio] + 2) & (mode < _I)
        mode[back_to] = _FIRST
        mode[kind == _MY_NAME] = _I
        self.neutral_name_used = (mode >= _FIRST) & (mode != _TITLE)
        grammar = np.select([mode == _THEY, mode == _I], [1, 2], 0)

        # -- templates: subject sentences follow a per-bio permutation (no repeats in short bios)
        perm = np.argsort(rng.random((rows, len(SUBJECT))), axis=1)[bio, pos % len(SUBJECT)]
        template = np.where(mode >= _FIRST, _SUBJECT_NAME_IDS[perm], _SUBJECT_IDS[perm])
        u = rng.random(total)
        for k, ids in (
            (_NEUTRAL, _NEUTRAL_IDS),
            (_GENDERED, _GENDERED_IDS),
            (_MY_NAME, _MY_NAME_IDS),
        ):
            chosen = kind == k
            template[chosen] = ids[(u[chosen] * len(ids)).astype(np.int64)]
        chosen = kind == _INTRODUCE
        template[chosen] = self.intro[bio[chosen]]
        chosen = kind == _ABOUT_OTHER
        template[chosen] = _ABOUT_IDS[
            (self.about_start[bio[chosen]] + back[chosen]) % len(_ABOUT_IDS)
        ]

        self.bio, self.pos, self.kind, self.mode, self.grammar = bio, pos, kind, mode, grammar
        self.template = template
        self.years = rng.integers(2, 31, size=total)
        self.city = _pick(rng, CITIES, total)
        shift = 1 + rng.integers(len(CITIES) - 1, size=total)
        self.city2 = (self.city + shift) % len(CITIES)

    # -- assembling text

    def _slot(self, slot: str, rows: np.ndarray) -> np.ndarray | str:
        """The text of ``slot`` for the sentences ``rows``."""
        bio = self.bio[rows]
        if slot in _PRONOUNS:
            mode = self.mode[rows]
            out = np.empty(len(rows), dtype=object)
            pronoun = mode <= _I
            who = np.where(mode == _PRONOUN, self.gender[bio], mode + 1)[pronoun]
            out[pronoun] = _objects(_PRONOUNS[slot])[who]
            named = ~pronoun
            out[named] = self.names[mode[named] - _FIRST, bio[named]]
            if slot in ("p", "P"):
                out[named] = out[named] + "'s"
            return out
        if slot.startswith("v:"):
            forms = slot[2:].split("/")
            forms += forms[-1:] * (3 - len(forms))
            return _objects(forms)[self.grammar[rows]]
        if slot.startswith("g:"):
            return _objects(slot[2:].split("/"))[self.gender[bio]]
        if slot in _OTHER_PRONOUNS:
            return _objects(_OTHER_PRONOUNS[slot])[self.other_gender[bio]]
        table = {
            "FIRSTNAME": lambda: self.names[0, bio],
            "FULLNAME": lambda: self.names[1, bio],
            "ON": lambda: self.other_first[bio],
            "OFULL": lambda: self.other_full[bio],
            "REL": lambda: self.relation_word[bio],
            "ojob": lambda: _objects(OTHER_JOBS)[self.other_job[bio]],
            "field": lambda: _FIELDS[0][self.field[bio]],
            "field2": lambda: _FIELDS[0][self.field2[bio]],
            "work": lambda: _WORKS[self.grammar[rows], self.work[bio]],
            "work2": lambda: _WORKS[self.grammar[rows], self.work2[bio]],
            "place": lambda: _PLACES[0][self.place[bio]],
            "family": lambda: _FAMILY[0][self.family[bio]],
            "school": lambda: _objects(SCHOOLS)[self.school[bio]],
            "hobby": lambda: _objects(HOBBIES)[self.hobby[bio]],
            "kids": lambda: _objects(KIDS)[self.kids[bio]],
            "language": lambda: _objects(LANGUAGES)[self.language[bio]],
            "years": lambda: _YEARS[self.years[rows]],
            "city": lambda: _objects(CITIES)[self.city[rows]],
            "city2": lambda: _objects(CITIES)[self.city2[rows]],
        }
        return table[slot]()

    def texts(self) -> np.ndarray:
        """One bio per row: its sentences filled in, template by template, and joined."""
        sentences = np.empty(len(self.template), dtype=object)
        order = np.argsort(self.template, kind="stable")
        bounds = np.searchsorted(self.template[order], np.arange(len(_TABLE) + 1))
        for index, (_, template) in enumerate(_TABLE):
            rows = order[bounds[index] : bounds[index + 1]]
            if len(rows) == 0:
                continue
            parts = template.parts
            text = np.full(len(rows), parts[0], dtype=object)
            for slot, literal in zip(parts[1::2], parts[2::2], strict=True):
                text = text + self._slot(slot, rows) + literal
            sentences[rows] = text
        # one join over all sentences, then cut at the bio boundaries (a "\n" never occurs in
        # a sentence): far cheaper than growing each bio sentence by sentence
        ends = np.zeros(len(sentences), dtype=bool)
        ends[self.first_sentence + self.n - 1] = True
        joined = "".join((sentences + np.where(ends, "\n", " ").astype(object)).tolist())
        return _objects(joined[:-1].split("\n"))


def generate_split(
    rows: int, seed: int, *, annotate: bool = False, task: str = "gender"
) -> pd.DataFrame:
    """Return ``rows`` synthetic bios with the columns of ``LabHC/bias_in_bios``.

    With ``annotate``, also how each bio was made (the same rows and texts): ``style``,
    ``written_gender`` (the gender the text was written for), ``label_noise`` (its label was
    flipped), ``other_gender`` and ``other_name`` (of the other person a bio mentions; -1 and
    None when none),
    ``other_last`` (the bio ends on sentences about that person), ``gendered_noun`` (a gendered
    noun about the subject) and ``neutral_name``; for the occupation task also ``family_cues``
    (the bio has its occupation family's cues instead of its profession's).

    ``task`` is ``"gender"`` (the sample as it always was) or ``"occupation"`` (the same bios, with
    family-level cues planted in ``FAMILY_CUE_SHARE`` of the bios of each occupation family's
    members: see the module docstring).
    """
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {', '.join(TASKS)}")
    bios = _Bios(rows, np.random.default_rng(seed))
    if task == "occupation":
        bios.plant_family_cues(np.random.default_rng([seed, _OCCUPATION_STREAM]))
    frame = pd.DataFrame(
        {
            "hard_text": bios.texts(),
            "profession": bios.profession.astype(np.int64),
            "gender": (bios.gender ^ bios.noise).astype(np.int64),
        }
    )
    if annotate:
        last = bios.first_sentence + bios.n - 1
        mentions = np.zeros(rows, dtype=bool)
        mentions[bios.bio[bios.kind == _INTRODUCE]] = True
        has_noun = np.zeros(rows, dtype=bool)
        has_noun[bios.bio[bios.kind == _GENDERED]] = True
        frame["style"] = np.array(STYLES, dtype=object)[bios.style]
        frame["written_gender"] = bios.gender
        frame["label_noise"] = bios.noise
        frame["other_gender"] = np.where(mentions, bios.other_gender, -1)
        frame["other_name"] = np.where(mentions, bios.other_first, None)
        frame["other_last"] = bios.kind[last] >= _INTRODUCE
        frame["gendered_noun"] = has_noun
        frame["neutral_name"] = bios.neutral_name
        if task == "occupation":
            frame["family_cues"] = bios.family_cues
    return frame


def generate_sample(
    sizes: dict[str, int], seed: int, *, task: str = "gender"
) -> dict[str, pd.DataFrame]:
    """Return every split of the sample; each split has its own stream derived from ``seed``.

    ``task`` is that of :func:`generate_split`.
    """
    streams = np.random.SeedSequence(seed).spawn(len(sizes))
    return {
        split: generate_split(rows, int(stream.generate_state(1)[0]), task=task)
        for (split, rows), stream in zip(sizes.items(), streams, strict=True)
    }
