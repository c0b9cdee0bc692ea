"""Offline, deterministic reading of an inbound text: sentiment (VADER's lexicon),
topics (YAKE keywords) and the style features Parley learns a contact from."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from parley.domain.profiles import LearnedStyle

SENTIMENT_ANALYSER = "vader-3.3.2"
TOPIC_EXTRACTOR = "yake-ngram2-top3"
STYLE_WINDOW = 20  # recent messages a style is read from

_INFORMAL = re.compile(
    r"\b(lol|haha+|hehe|omg|btw|u|ur|gonna|wanna|ya|yeah|yep|nope|thx|pls|plz|k|ok+)\b|!!+|\?\?+"
)
_FORMAL = re.compile(
    r"\b(dear|regards|sincerely|kindly|please|thank you|would|could|appreciate|"
    r"mr|mrs|ms|dr|madam|sir)\b"
)


@dataclass(frozen=True)
class Sentiment:
    compound: float  # -1 .. 1
    label: str  # "positive", "neutral" or "negative"


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _yake() -> Any:
    import yake

    return yake.KeywordExtractor(lan="en", n=2, top=3, dedupLim=0.7)


def sentiment(text: str) -> Sentiment:
    compound = round(float(_vader().polarity_scores(text)["compound"]), 4)
    label = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
    return Sentiment(compound, label)


def topics(text: str) -> list[str]:
    if not any(ch.isalpha() for ch in text):
        return []
    keywords = _yake().extract_keywords(text)
    return [str(keyword).lower() for keyword, _score in keywords]


def count_emoji(text: str) -> int:
    return sum(
        1 for ch in text if unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF
    )


def formality(text: str) -> float:
    """0 casual .. 1 formal, from a few cues; 0.5 when there are none."""
    lowered = text.lower()
    informal = len(_INFORMAL.findall(lowered)) + count_emoji(text)
    formal = len(_FORMAL.findall(lowered))
    if text[:1].isupper() and text.rstrip()[-1:] in ".?":
        formal += 1
    if text == lowered and any(ch.isalpha() for ch in text):
        informal += 1
    if formal + informal == 0:
        return 0.5
    return round(formal / (formal + informal), 2)


def learn_style(previous: LearnedStyle, recent_texts: list[str]) -> LearnedStyle:
    """The style seen in a contact's recent messages (newest last, up to
    STYLE_WINDOW), blended with what was learned before while the window is short.

    Figures are rounded to coarse steps, so the style changes, and is recorded,
    only when it visibly does; and since it is recomputed from the messages
    themselves, a contact who stops using emoji is seen to stop.
    """
    window = [text for text in recent_texts if text][-STYLE_WINDOW:]
    if not window:
        return previous
    seen = len(window)
    carried = min(previous.samples, STYLE_WINDOW - seen)
    total = seen + carried

    def blend(recent: float, before: float) -> float:
        return (recent * seen + before * carried) / total

    emoji = blend(sum(count_emoji(t) for t in window) / seen, previous.emoji_rate)
    length = blend(sorted(len(t) for t in window)[seen // 2], previous.typical_length)
    formal = blend(sum(formality(t) for t in window) / seen, previous.formality)
    return LearnedStyle(
        emoji_rate=round(emoji * 2) / 2,
        typical_length=_length_bucket(length),
        formality=round(formal * 4) / 4,
        samples=total,
    )


def same_style(a: LearnedStyle, b: LearnedStyle) -> bool:
    """Whether two styles read the same (the sample count aside)."""
    return (a.emoji_rate, a.typical_length, a.formality) == (
        b.emoji_rate,
        b.typical_length,
        b.formality,
    )


_LENGTH_BUCKETS = (10, 20, 40, 80, 160, 320, 640, 1280)


def _length_bucket(length: float) -> int:
    """The nearest of a few lengths, spaced by doubling: short, medium, long..."""
    return min(_LENGTH_BUCKETS, key=lambda bucket: abs(bucket - length) / bucket)
