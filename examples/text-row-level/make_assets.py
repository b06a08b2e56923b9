"""Train a topic classifier on short texts made up here, and write a folder of CSV files of texts to score.

The corpus is generated from templates and a few nouns per topic, so nothing is downloaded. About one
text in seven borrows a noun from another topic, so the classifier has to weigh its words. Training
and scored texts come from different random seeds; the scored texts' true topics go to labels.csv
(beside the folder, not in it) so that the predictions can be checked.
"""

from __future__ import annotations

import argparse
import pickle
import random
from pathlib import Path

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

TOPICS = {  # a few nouns per topic, comma-separated
    "sports": "match, striker, referee, penalty, league, coach, stadium, goalkeeper, derby, tournament, free kick",
    "cooking": "garlic bread, oven, recipe, risotto, sourdough, cast iron pan, tomato sauce, pastry, soup, dumplings",
    "weather": "thunderstorm, forecast, heatwave, drizzle, snowfall, humidity, wind chill, fog, hail, sunshine, frost",
    "technology": "laptop, software update, battery, keyboard, router, browser, phone screen, charger, database, app",
}
TEMPLATES = [
    "the {0} was great but the {1} needs work",
    "can anyone recommend a good {0} for the {1}?",
    "spent the whole weekend on the {0} and the {1}",
    "nothing beats a {0} after the {1}",
    "the {0} ruined everything right before the {1}",
    "new {0} announced, {1} expected next week",
    "honestly the {0} matters more than the {1}",
    "is it just me or is the {0} worse than the {1} this year?",
]
NOUNS = {topic: nouns.split(", ") for topic, nouns in TOPICS.items()}
SIZES = {"small": (4, 50), "full": (12, 500)}  # files x texts per file


def make_texts(count: int, seed: int) -> pd.DataFrame:
    """``count`` short texts with their topic: a template filled with two nouns, mostly of that topic."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        topic = rng.choice(sorted(TOPICS))
        first, second = rng.sample(NOUNS[topic], 2)
        if rng.random() < 0.15:  # a noun from another topic
            second = rng.choice(NOUNS[rng.choice([t for t in sorted(TOPICS) if t != topic])])
        rows.append({"text": rng.choice(TEMPLATES).format(first, second), "topic": topic})
    return pd.DataFrame(rows)


def main(out: Path, size: str) -> None:
    """Write ``out/model/model.pkl``, ``out/data/posts-*.csv`` and ``out/labels.csv``."""
    corpus = make_texts(800, seed=1)
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression(max_iter=1000))
    model.fit(corpus["text"], corpus["topic"])
    (out / "model").mkdir(parents=True)
    with (out / "model" / "model.pkl").open("wb") as handle:
        pickle.dump(model, handle)

    files, rows = SIZES[size]
    posts = make_texts(files * rows, seed=2)
    posts.insert(0, "post_id", range(1, len(posts) + 1))
    data = out / "data"
    data.mkdir()
    for index in range(files):
        part = posts.iloc[index * rows : (index + 1) * rows]
        part[["post_id", "text"]].to_csv(data / f"posts-{index:03d}.csv", index=False)
    posts[["post_id", "topic"]].to_csv(out / "labels.csv", index=False)
    print(
        f"trained TF-IDF + LogisticRegression on {len(corpus)} texts of {len(TOPICS)} topics; "
        f"wrote {files} CSV files of {rows} texts to {data}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    arguments = parser.parse_args()
    main(arguments.out, arguments.size)
