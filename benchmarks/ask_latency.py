"""Wall time of `cnaps ask` with the knowledge index built, plus what it is made of.

    PYTHONPATH=. python benchmarks/ask_latency.py [--card agent/data/cards/000_95d455792278b8ff.txt] [--runs 5]
        [--with-sentence-transformers] [--json results.json]

Each `ask` runs in a fresh `python -m agent.cli ask CARD --format json` process in a temporary CNAPS_HOME, with no
language model. "cold" is the first ask after `cnaps index` built the index (fresh interpreter, nothing cached in
process; the OS file cache is not dropped, the machine is shared). "warm" is the median of the following runs.
The parts: interpreter start, imports (chromadb, the store, the CLI), index build, and the per-query embedding
cost of the numpy path (and of sentence-transformers when asked). The load average is printed because other work
on the 2-core machine changes every number.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# The shared card beside a development checkout, else its copy bundled with the package.
DEFAULT_CARD = next((path for path in (REPO.parent / "shared" / "cards" / "000_95d455792278b8ff.txt",
                                       REPO / "agent" / "data" / "cards" / "000_95d455792278b8ff.txt")
                     if path.is_file()), REPO / "agent" / "data" / "cards" / "000_95d455792278b8ff.txt")
QUERIES = [
    "How does this model recreate such detailed scenes from minimal input?",
    "the blurred image is given to the network at full, half and quarter resolution",
    "asymmetric feature fusion combines encoder features from every scale",
    "the weights were trained on pairs of blurred and sharp images",
    "interpolation enlarges the image: it adds pixels but no new detail",
]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed


def per_query_ms(embed, queries: list[str], rounds: int = 5) -> float:
    embed(queries[:1])  # load weights outside the timing
    start = time.perf_counter()
    for _ in range(rounds):
        for query in queries:
            embed([query])
    return (time.perf_counter() - start) / (rounds * len(queries)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", type=Path, default=DEFAULT_CARD)
    parser.add_argument("--runs", type=int, default=5, help="ask processes in all (the first is the cold one)")
    parser.add_argument("--with-sentence-transformers", action="store_true",
                        help="also time sentence-transformers (its import alone takes 10-20 s here)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if not args.card.is_file():
        raise SystemExit(f"card {args.card} not found: pass --card PATH")

    results: dict[str, object] = {"load_average_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="cnaps-bench-") as home:
        env = {**os.environ, "CNAPS_HOME": home, "CNAPS_LLM__MODE": "none", "PYTHONPATH": str(REPO),
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
        for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.pop(key, None)
        py = sys.executable
        results["python_start_s"] = timed([py, "-c", "pass"], env)
        results["import_numpy_s"] = timed([py, "-c", "import numpy"], env)
        # `import chromadb` as a plain script does it, and as cnaps does it (knowledge.chroma: without the
        # `overrides` signature checks), each the median of three fresh processes, interleaved.
        plain, unchecked = [], []
        for _ in range(3):
            plain.append(timed([py, "-c", "import chromadb"], env))
            unchecked.append(timed([py, "-c", "import knowledge.chroma"], env))
        results["import_chromadb_s"] = statistics.median(plain)
        results["import_chromadb_unchecked_s"] = statistics.median(unchecked)
        results["import_knowledge_store_s"] = timed([py, "-c", "import knowledge.store"], env)
        results["import_agent_cli_s"] = timed([py, "-c", "import agent.cli"], env)
        results["index_build_s"] = timed([py, "-m", "agent.cli", "index", "--card", str(args.card)], env)
        ask = [py, "-m", "agent.cli", "ask", str(args.card), "--format", "json"]
        runs = [timed(ask, env) for _ in range(max(2, args.runs))]
        results["ask_cold_s"] = runs[0]
        results["ask_warm_median_s"] = statistics.median(runs[1:])
        results["ask_warm_min_s"] = min(runs[1:])

    from knowledge.embed import Embedder

    start = time.perf_counter()
    light = Embedder()
    light.embed(["load"])
    results["numpy_embedder_load_s"] = time.perf_counter() - start
    results["numpy_embed_per_query_ms"] = per_query_ms(light.embed, QUERIES)
    if args.with_sentence_transformers:
        from knowledge.embed import model_dir

        start = time.perf_counter()
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(model_dir()), device="cpu")
        results["sentence_transformers_import_and_load_s"] = time.perf_counter() - start
        results["sentence_transformers_per_query_ms"] = per_query_ms(
            lambda texts: model.encode(texts, normalize_embeddings=True), QUERIES)
    results["load_average_end"] = os.getloadavg()[0]

    width = max(len(key) for key in results)
    for key, value in results.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
