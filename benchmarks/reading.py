"""How well cnaps reads questions and how long its answers are: prints one table.

- intent accuracy: the rows of tests/data/questions.jsonl that carry a ground-truth `group` (each intent's examples
  and five paraphrases per kind) read with that intent first;
- label accuracy: the 153 human-labelled rows of the classification set (deblurring / super-resolution / both /
  other), and their scale;
- paraphrase agreement: within each group, the share of rows whose first intent is the group's most common one;
- answer words (median, max) and latency per ask: `ask` (offline composer, no image) on a sample of the rows, warm
  (the index built and the embedder loaded before timing), against the card given (default: the first shared card).

Usage: python3 benchmarks/reading.py [--card CARD] [--asks N] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ROWS = REPO / "tests" / "data" / "questions.jsonl"
DEFAULT_CARD = REPO.parent / "shared" / "cards" / "000_95d455792278b8ff.txt"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--card", type=Path, default=DEFAULT_CARD if DEFAULT_CARD.exists() else None)
    parser.add_argument("--asks", type=int, default=60, help="How many rows to answer in full (spread over the set).")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON instead of a table.")
    args = parser.parse_args(argv)

    from agent.ask import ask
    from agent.cards import bundled_card, load_card
    from agent.reading import read

    card = load_card(args.card) if args.card else bundled_card()
    rows = [json.loads(line) for line in ROWS.read_text(encoding="utf-8").splitlines() if line.strip()]
    read(rows[0]["question"], card)  # warm: the embedder and the example vectors load once

    started = time.perf_counter()
    readings = [read(row["question"], card) for row in rows]
    read_ms = 1000 * (time.perf_counter() - started) / len(rows)

    grouped = [(row, r) for row, r in zip(rows, readings) if row.get("group")]
    intent_acc = sum(r.primary == row["group"] for row, r in grouped) / len(grouped)
    labelled = [(row, r) for row, r in zip(rows, readings) if "label_truth" in row]
    label_acc = sum(r.classification.label.value == row["label_truth"] for row, r in labelled) / len(labelled)
    scaled = [(row, r) for row, r in labelled if row.get("scale_truth")]
    scale_acc = sum(r.classification.scale == row["scale_truth"] for row, r in scaled) / len(scaled)
    groups: dict[str, list[str]] = defaultdict(list)
    for row, r in grouped:
        groups[row["group"]].append(r.primary)
    agreement = statistics.mean(Counter(names).most_common(1)[0][1] / len(names) for names in groups.values())

    ask(card, question=rows[0]["question"], llm="none")  # warm: the index is built before timing
    step = max(1, len(rows) // max(1, args.asks))
    sample = rows[::step][: args.asks]
    words, seconds = [], []
    for row in sample:
        started = time.perf_counter()
        answer = ask(card, question=row["question"], llm="none")
        seconds.append(time.perf_counter() - started)
        words.append(len(answer.markdown.split()))
    card_answer = ask(card, llm="none")
    figures = {
        "rows": len(rows), "intent_accuracy": round(intent_acc, 3), "intent_rows": len(grouped),
        "label_accuracy": round(label_acc, 3), "label_rows": len(labelled), "scale_accuracy": round(scale_acc, 3),
        "paraphrase_agreement": round(agreement, 3), "groups": len(groups), "read_ms": round(read_ms, 1),
        "asks": len(sample), "words_median": statistics.median(words), "words_max": max(words),
        "card_question_words": len(card_answer.markdown.split()),
        "ask_s_median": round(statistics.median(seconds), 3),
        "ask_s_p90": round(sorted(seconds)[int(0.9 * (len(seconds) - 1))], 3),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"reading: {figures['rows']} questions, card {card.source or 'bundled'}")
    print("| measure | value |\n|---|---|")
    print(f"| intent accuracy (examples and paraphrases, {len(grouped)} rows) | {intent_acc:.3f} |")
    print(f"| label accuracy (human labels, {len(labelled)} rows) | {label_acc:.3f} |")
    print(f"| scale accuracy ({len(scaled)} rows with a scale) | {scale_acc:.3f} |")
    print(f"| paraphrase agreement ({len(groups)} groups) | {agreement:.3f} |")
    print(f"| read per question | {read_ms:.1f} ms |")
    print(f"| answer words, median / max ({len(sample)} asks) | {figures['words_median']} / {figures['words_max']} |")
    print(f"| the card's own question | {figures['card_question_words']} words |")
    print(f"| warm ask, median / p90 | {figures['ask_s_median']:.2f} s / {figures['ask_s_p90']:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
