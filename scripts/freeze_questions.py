"""Freeze today's readings (label, scale, needs, primary intent) of every question the tests ask, the labelled
classification set, and each intent's examples and paraphrases into tests/data/questions.jsonl.

Run from the repository root after a deliberate change of a reading: `python3 scripts/freeze_questions.py`; the
diff of the jsonl file is then the review of what changed. tests/agent/test_questions.py keeps it true.
"""
import ast
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, "tests/agent")
from agent.cards import load_card
from agent.reading import read
from agent.reading.intents import REGISTRY
card = load_card("../shared/cards/000_95d455792278b8ff.txt")
rows, seen = [], set()
def add(q, source, group=None, truth=None):
    q = " ".join(q.split())
    if q in seen or len(q) < 4: return
    seen.add(q)
    r = read(q, card); c = r.classification
    row = {"question": q, "label": c.label.value, "scale": c.scale, "needs": c.needs, "intent": r.primary, "source": source}
    if group: row["group"] = group
    if truth: row.update(truth)
    rows.append(row)
for line in Path("tests/data/classify_set.jsonl").read_text().splitlines():
    d = json.loads(line)
    add(d["question"], "classify_set", truth={"label_truth": d["label"], "scale_truth": d.get("scale")})
for name in ("test_classify.py", "test_ask.py", "test_compose.py"):
    tree = ast.parse(Path("tests/agent", name).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "parametrize":
            for const in ast.walk(node):
                if isinstance(const, ast.Constant) and isinstance(const.value, str):
                    v = " ".join(const.value.split())
                    questions_only = name == "test_classify.py"  # its parametrize rows are (question, label, ...)
                    if " " in v and (v.endswith(("?", ".", "!")) or questions_only) and len(v) < 300 \
                            and not re.fullmatch(r"[a-z_]+(?:, ?[a-z_]+)+", v) and not v.startswith(
                            ("You ", "Your ", "cnaps ", "Partly", "Yes", "No", "Only", "Not ", "If ")):
                        add(v, f"tests/agent/{name}")
from test_intents import PARAPHRASES
for intent in REGISTRY.values():
    for ex in intent.examples: add(ex, "intent-example", group=intent.name)
for name, qs in PARAPHRASES.items():
    for q in qs: add(q, "paraphrase", group=name)
Path("tests/data/questions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
print(len(rows), Counter(r["source"] for r in rows))
