"""A small deterministic prose generator and the token estimate the emulator uses everywhere.

Why not random text or lorem ipsum: walkthroughs print what the "model" said, and readable sentences make
a demo look like a demo rather than a failure. Why deterministic: a test can assert on exact text.

Token estimate (documented as an estimate, not a tokenizer): ``ceil(characters / 4)``, the usual rule of
thumb for English. Generated text that is cut by ``max_tokens`` is cut at ``max_tokens * 4`` characters, so
its estimate is exactly ``max_tokens``, as a real model's output is when it stops for length.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

CHARS_PER_TOKEN = 4


# Natural answer length (in tokens, before max_tokens/stop): long enough to stream visibly, short enough
# to keep logs readable.
NATURAL_MIN_TOKENS = 30
NATURAL_MAX_TOKENS = 90


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ADJECTIVES = _words(
    "quiet patient curious bright gentle steady careful restless humble clever distant golden hidden "
    "simple silver modest sudden familiar narrow generous"
)
_NOUNS = _words(
    "river lantern garden engineer library harbor compass village teacher bridge meadow archive signal "
    "traveler workshop orchard notebook mountain market window"
)
_VERBS = _words(
    "remembers follows answers gathers carries measures shelters explains watches repairs invites "
    "questions collects welcomes outlasts describes guides shapes"
)
_ADVERBS = _words("slowly quietly gladly carefully always rarely patiently eventually gently often")
_OPENERS = (
    "In the morning",
    "Long ago",
    "By evening",
    "After the rain",
    "Every spring",
    "Without a word",
    "Before long",
    "At the edge of town",
    "Once in a while",
    "Sooner or later",
)
# The topic only appears where number and article do not matter ("the story of rivers", "about time").
_TEMPLATES = (
    "{Opener}, the {adj} {noun} {verb} the {noun2}.",
    "The {noun} {adverb} {verb} every {adj} {noun2}.",
    "When it comes to {topic}, the {adj} {noun} {verb} what the {noun2} forgot.",
    "Nobody expected the {noun} to be so {adj}, yet it {verb} the {noun2} {adverb}.",
    "A {adj} {noun2} {verb} the story of {topic}, and the {noun} {adverb} listens.",
    "Some say the {noun} {verb} {topic}; others trust the {adj} {noun2}.",
    "Thinking of {topic}, the {noun} {verb} the {adj} {noun2} {adverb}.",
    "{Opener}, every {noun} {verb} a {adj} {noun2} of its own.",
)
# Words never worth writing about (and chat role names, which prefix each message of a conversation).
_NOT_TOPICS = frozenset(
    _words(
        "about above after again also assistant because before being below between both could describe developer does "
        "doing down during each explain from function give hello have having here into just know like make more most "
        "once only other over please same should show some such system tell than that their them then there these "
        "they this those through tool under until upon user very want were what when where which while will with would "
        "write your"
    )
)
_PIECE = re.compile(r"\s*\S+|\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")


def estimate_tokens(text: str) -> int:
    """The emulator's token estimate: ``ceil(len(text) / 4)``; 0 for empty text."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def split_pieces(text: str) -> list[str]:
    """Split text into stream pieces (a word with its leading whitespace); ``"".join`` gives the text back."""
    return _PIECE.findall(text)


@dataclass(frozen=True)
class Generated:
    """One generated choice: its text, why it ended, and its token estimate."""

    text: str
    finish_reason: str
    tokens: int


def generate(
    prompt: str,
    *,
    seed: int = 0,
    index: int = 0,
    max_tokens: int | None = None,
    stop: Sequence[str] = (),
) -> Generated:
    """Deterministic prose for ``prompt``: same prompt, seed, index and max_tokens give the same text.

    ``index`` tells the ``n`` choices of one request apart. ``stop`` sequences cut the text before their first
    occurrence (``finish_reason`` "stop"); ``max_tokens`` cuts it at that many estimated tokens ("length").
    """
    text = natural_text(prompt, seed=seed, index=index)
    cut_positions = [text.find(s) for s in stop if s and s in text]
    if cut_positions:
        text = text[: min(cut_positions)]
    if max_tokens is not None and estimate_tokens(text) > max_tokens:
        text = text[: max_tokens * CHARS_PER_TOKEN]
        return Generated(text, "length", estimate_tokens(text))
    return Generated(text, "stop", estimate_tokens(text))


@functools.lru_cache(maxsize=1024)  # pure function of its arguments; repeated prompts (benchmarks) skip the work
def natural_text(prompt: str, *, seed: int = 0, index: int = 0) -> str:
    """The full answer before any cut: a few sentences in one or two paragraphs, seeded by the prompt."""
    rng = random.Random(_seed_for(prompt, seed, index))
    topic = _topic_of(prompt, rng)
    target_chars = rng.randint(NATURAL_MIN_TOKENS, NATURAL_MAX_TOKENS) * CHARS_PER_TOKEN
    sentences: list[str] = []
    length = 0
    while length < target_chars:
        sentence = _sentence(rng, topic)
        sentences.append(sentence)
        length += len(sentence) + 1
    if len(sentences) > 3:
        # Two paragraphs read more like a model's answer (and put a "\n\n" in streams, as recorded).
        middle = len(sentences) // 2
        return " ".join(sentences[:middle]) + "\n\n" + " ".join(sentences[middle:])
    return " ".join(sentences)


def _seed_for(prompt: str, seed: int, index: int) -> int:
    digest = hashlib.sha256(f"{seed}\x00{index}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _topic_of(prompt: str, rng: random.Random) -> str:
    """A word from the prompt to write about (its longest word), so answers echo what was asked."""
    words: list[str] = [w for w in (w.lower() for w in _WORD.findall(prompt)) if w not in _NOT_TOPICS]
    if not words:
        return _pick(rng, _NOUNS)
    return max(words, key=lambda w: (len(w), w))


def _pick(rng: random.Random, words: Sequence[str]) -> str:
    return words[int(rng.random() * len(words))]  # rng.choice, minus its overhead on this hot path


def _sentence(rng: random.Random, topic: str) -> str:
    noun = _pick(rng, _NOUNS)
    noun2 = _pick(rng, [n for n in _NOUNS if n != noun])
    return _pick(rng, _TEMPLATES).format(
        Opener=_pick(rng, _OPENERS),
        adj=_pick(rng, _ADJECTIVES),
        noun=noun,
        noun2=noun2,
        verb=_pick(rng, _VERBS),
        adverb=_pick(rng, _ADVERBS),
        topic=topic,
    )


def unit_vector(text: str, dimensions: int, *, seed: int = 0) -> list[float]:
    """A deterministic unit-length embedding for ``text`` (same text, same vector)."""
    rng = random.Random(_seed_for(text, seed, -1))
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 8) for v in values]
