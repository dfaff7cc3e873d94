"""Score Microsoft Presidio's pattern recognizers and our detectors on the same labelled corpus.

Reads the JSONL written by ``bench/presidio/export-corpus.ts`` (each line: the text, its
labels and the spans our detectors found) and prints precision and recall per type for:

* ``ours``: our detectors' spans from the export (``scanPiiSync``, all built-in detectors);
* ``presidio@0``: Presidio's ``AnalyzerEngine`` with a registry holding only the pattern
  recognizers below, the ``NoOpNlpEngine`` (no spaCy model: no tokens, so no context
  words), ``score_threshold=0`` (Presidio's default);
* ``presidio@0.5``: the same at ``score_threshold=0.5``;
* ``presidio@0.5+ctx``: the same at 0.5 with context words: a stub NLP engine tokenizes with
  ``spacy.blank("en")`` (ships with spaCy, nothing downloaded) and gives each token's lower-case
  text as its lemma, so Presidio's ``LemmaContextAwareEnhancer`` can raise a score when a
  context word ("phone", "ssn", "email", ...) is near the match, as it does with a real model.

Scoring is that of ``test/governance/pii-corpus.test.ts``: for each found span, in order, the
first not yet matched label of the same type that overlaps it (``m.start < l.end and l.start <
m.end``) is a true positive, else the span is a false positive; labels left unmatched are false
negatives. Precision = tp / (tp + fp) (1 when nothing was found), recall = tp / (tp + fn).

Usage::

    python bench/presidio/score.py corpus.jsonl [--misses=N]   # - reads stdin
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine, NoOpNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

# Presidio entity -> our type. Ours without a Presidio recognizer are reported as n/a.
ENTITY_TO_TYPE = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "US_SSN": "ssn",
    "IP_ADDRESS": "ip",
}
TYPES = ["email", "phone", "credit_card", "iban", "ssn", "ip", "api_key", "jwt", "high_entropy"]
NO_PRESIDIO = {"api_key", "jwt", "high_entropy"}

# The public suffix list of the tldextract release Presidio installs, never fetched: the live
# list would make results depend on the network (tldextract falls back to this snapshot anyway
# when offline, after logging the failed fetch).
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """``EmailRecognizer`` with its own validation (fqdn non-empty) on the bundled suffix list."""

    def validate_result(self, pattern_text: str):  # noqa: D102
        return _OFFLINE_TLD(pattern_text).fqdn != ""


def recognizers():
    """The Presidio recognizers used, with their default patterns, scores and context words."""
    return [
        OfflineEmailRecognizer(),
        PhoneRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        UsSsnRecognizer(),
        IpRecognizer(),
    ]


class TokenizerOnlyNlpEngine(NlpEngine):
    """Tokens from ``spacy.blank("en")``; lemma = lower-case token text; no entities."""

    def __init__(self) -> None:
        self.nlp = None

    def load(self) -> None:  # noqa: D102
        self.nlp = spacy.blank("en")

    def is_loaded(self) -> bool:  # noqa: D102
        return self.nlp is not None

    def process_text(self, text: str, language: str) -> NlpArtifacts:  # noqa: D102
        doc = self.nlp(text)
        return NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.lower_ for t in doc],
            nlp_engine=self,
            language=language,
        )

    def process_batch(self, texts, language, batch_size=1, n_process=1, as_tuples=False, **kwargs):  # noqa: D102
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:  # noqa: D102
        return self.nlp.vocab[word].is_stop

    def is_punct(self, word: str, language: str) -> bool:  # noqa: D102
        return self.nlp.vocab[word].is_punct

    def get_supported_entities(self) -> List[str]:  # noqa: D102
        return []

    def get_supported_languages(self) -> List[str]:  # noqa: D102
        return ["en"]


def engine(with_context: bool) -> AnalyzerEngine:
    """An AnalyzerEngine over only the pattern recognizers above."""
    if with_context:
        nlp: NlpEngine = TokenizerOnlyNlpEngine()
    else:
        nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    nlp.load()
    return AnalyzerEngine(registry=RecognizerRegistry(recognizers=recognizers()), nlp_engine=nlp, supported_languages=["en"])


Span = Tuple[str, int, int]  # type, start, end


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: List[str] = field(default_factory=list)
    #: where false positives land: 'near-miss of X', 'inside a Y value', 'second span on a T value', 'elsewhere'
    fp_where: Counter = field(default_factory=Counter)

    @property
    def precision(self) -> float:
        return 1.0 if self.tp + self.fp == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float:
        return 1.0 if self.tp + self.fn == 0 else self.tp / (self.tp + self.fn)


def score(items: Sequence[dict], found: Sequence[Sequence[Span]]) -> Dict[str, Score]:
    """Per-type tp/fp/fn, with the greedy overlap rule of pii-corpus.test.ts."""
    by_type: Dict[str, Score] = {}

    def s(t: str) -> Score:
        return by_type.setdefault(t, Score())

    for item, spans in zip(items, found):
        labels = item["labels"]
        hit = set()
        for t, start, end in spans:
            i = next((j for j, l in enumerate(labels) if j not in hit and l["type"] == t and start < l["end"] and l["start"] < end), -1)
            if i == -1:
                s(t).fp += 1
                s(t).fp_where[fp_origin(item, t, start, end)] += 1
                s(t).misses.append(f"FP {t} {item['text'][start:end]!r} in {item['text']!r}")
            else:
                hit.add(i)
                s(t).tp += 1
        for j, l in enumerate(labels):
            if j not in hit:
                s(l["type"]).fn += 1
                s(l["type"]).misses.append(f"FN {l['type']} {l['value']!r} in {item['text']!r}")
    return by_type


def fp_origin(item: dict, t: str, start: int, end: int) -> str:
    """Where a false positive of type ``t`` lands in ``item``."""
    overlapping = [l["type"] for l in item["labels"] if start < l["end"] and l["start"] < end]
    if item.get("nearMissOf"):
        return f"near-miss of {item['nearMissOf']}"
    if t in overlapping:
        return f"second span on a {t} value"
    if overlapping:
        return f"inside a {overlapping[0]} value"
    return "elsewhere"


def presidio_spans(analyzer: AnalyzerEngine, text: str, threshold: float) -> List[Span]:
    """Presidio's findings mapped to our types, ordered by start (as scanPiiSync orders ours)."""
    results = analyzer.analyze(text=text, language="en", entities=list(ENTITY_TO_TYPE), score_threshold=threshold)
    return sorted((ENTITY_TO_TYPE[r.entity_type], r.start, r.end) for r in results)


def read_items(path: str) -> List[dict]:
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with stream:
        items = [json.loads(line) for line in stream if line.strip()]
    if not items:
        raise SystemExit(f"no corpus items in {path} (did the export fail?)")
    for item in items:
        for span in item["labels"] + item["ours"]:
            if item["text"][span["start"] : span["end"]] != span["value"]:
                raise SystemExit(f"item {item['index']}: offsets {span['start']}..{span['end']} do not give {span['value']!r}")
    return items


def fmt(sc: Score) -> str:
    return f"{sc.precision:.3f} / {sc.recall:.3f} ({sc.tp}/{sc.fp}/{sc.fn})"


def main(argv: List[str]) -> None:
    args = [a for a in argv[1:] if not a.startswith("--misses=")]
    misses = next((int(a.split("=", 1)[1]) for a in argv[1:] if a.startswith("--misses=")), 0)
    if len(args) != 1:
        raise SystemExit("usage: score.py corpus.jsonl|- [--misses=N]")
    items = read_items(args[0])
    plain, ctx = engine(with_context=False), engine(with_context=True)
    found = {
        "ours": [[(m["type"], m["start"], m["end"]) for m in it["ours"]] for it in items],
        "Presidio @0": [presidio_spans(plain, it["text"], 0) for it in items],
        "Presidio @0.5": [presidio_spans(plain, it["text"], 0.5) for it in items],
        "Presidio @0.5 + context": [presidio_spans(ctx, it["text"], 0.5) for it in items],
    }
    columns = {name: score(items, spans) for name, spans in found.items()}
    support = {t: sum(1 for it in items for l in it["labels"] if l["type"] == t) for t in TYPES}
    near = {t: sum(1 for it in items if it.get("nearMissOf") == t) for t in TYPES}
    print(f"PII corpus: {len(items)} items. Cells: precision / recall (tp/fp/fn).\n")
    header = ["type", "labels", "near-misses", *columns]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for t in TYPES:
        cells = [t, str(support[t]), str(near[t])]
        for name, by_type in columns.items():
            cells.append("n/a" if name != "ours" and t in NO_PRESIDIO else fmt(by_type.get(t, Score())))
        print("| " + " | ".join(cells) + " |")
    other = sorted({t for by_type in columns.values() for t in by_type} - set(TYPES))
    if other:
        print(f"\nother types found (not in the table): {other}")
    for name, by_type in columns.items():
        origins = sorted((t, where, n) for t, sc in by_type.items() for where, n in sc.fp_where.items())
        if origins:
            print(f"\nfalse positives of {name}, by where they land:")
            for t, where, n in origins:
                print(f"  {t:<12} {where:<28} {n}")
    for name, by_type in columns.items():
        if misses <= 0:
            break
        print(f"\nfirst misses, {name}:")
        for t in TYPES:
            if name != "ours" and t in NO_PRESIDIO:
                continue
            for line in by_type.get(t, Score()).misses[:misses]:
                print(f"  {line}")


if __name__ == "__main__":
    main(sys.argv)
