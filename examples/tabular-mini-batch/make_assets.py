"""Train a diabetes-progression model and write the table to score: an MLTable folder of CSV files.

scikit-learn's bundled diabetes data (442 patients) is split: the model is trained on 352 patients,
and the rows to score are visits of the 90 held-out patients, so the predictions are checked against
targets the model never saw. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# files x rows per file; the deployment cuts them into mini-batches of 1,000 rows
SIZES = {"small": (3, 400), "full": (8, 5000)}

MLTABLE = """\
paths:
  - pattern: ./*.csv
transformations:
  - read_delimited:
      delimiter: ','
"""


def main(out: Path, size: str) -> None:
    """Write ``out/model/model.pkl``, ``out/data/`` (MLTable + CSV files) and ``out/truth.csv``."""
    frame = load_diabetes(as_frame=True).frame
    frame.insert(0, "patient_id", range(len(frame)))
    train, held_out = train_test_split(frame, test_size=90, random_state=0)
    features = [c for c in frame.columns if c not in ("patient_id", "target")]
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    model.fit(train[features], train["target"])

    (out / "model").mkdir(parents=True)
    with (out / "model" / "model.pkl").open("wb") as handle:
        pickle.dump(model, handle)

    data = out / "data"
    data.mkdir()
    (data / "MLTable").write_text(MLTABLE, encoding="utf-8")
    files, rows = SIZES[size]
    rng = np.random.default_rng(0)
    for index in range(files):
        visits = held_out.iloc[rng.integers(0, len(held_out), rows)]
        visits[["patient_id", *features]].to_csv(data / f"visits-{index:03d}.csv", index=False)
    held_out[["patient_id", "target"]].to_csv(out / "truth.csv", index=False)
    print(
        f"trained {type(model[-1]).__name__} on {len(train)} patients; wrote {files} CSV files of {rows} rows "
        f"(visits of the {len(held_out)} held-out patients) to {data}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    arguments = parser.parse_args()
    main(arguments.out, arguments.size)
