"""An example job: logistic regression trained with gradient descent on a dataset's CSV files (or generated data).

Run it offline:  python examples/logistic_regression.py --job_dir runs/lr --training.epochs 300
Every setting can be overridden the same way; `--help` lists them.
"""

from __future__ import annotations

import io
import json

import numpy as np
from pydantic import Field

from brevettiai import Job, JobSettings


class DataSettings(JobSettings):
    """Where the samples come from: the CSV files of the job's datasets, else generated ones."""

    n_samples: int = Field(2000, ge=10, description="Number of generated samples (without datasets)")
    n_features: int = Field(8, ge=1, le=1000, description="Number of generated features (without datasets)")
    noise: float = Field(0.5, ge=0, description="Label noise of generated samples")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="Share of samples held out for testing")
    seed: int = Field(0, description="Random seed of the data generator")


class TrainingSettings(JobSettings):
    epochs: int = Field(200, ge=1, description="Gradient descent steps over the whole training set")
    learning_rate: float = Field(0.5, gt=0, description="Step size")
    l2: float = Field(1e-3, ge=0, description="L2 penalty on the weights", json_schema_extra={"advanced": True})
    log_every: int = Field(10, ge=1, description="Record progress metrics every N epochs")


class LogisticRegressionSettings(JobSettings):
    data: DataSettings = DataSettings()
    training: TrainingSettings = TrainingSettings()


def generate_samples(n_samples: int, n_features: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Samples from a random linear model with noisy labels."""
    rng = np.random.default_rng(seed)
    true_w = rng.normal(size=n_features)
    x = rng.normal(size=(n_samples, n_features))
    y = (x @ true_w + rng.normal(scale=noise, size=n_samples) > 0).astype(float)
    return x, y


def samples_to_csv(x: np.ndarray, y: np.ndarray) -> str:
    """The CSV form of samples: feature columns f0..fn, then the label."""
    header = ",".join([f"f{i}" for i in range(x.shape[1])] + ["label"])
    rows = "\n".join(",".join(f"{v:.6g}" for v in [*features, label]) for features, label in zip(x, y, strict=True))
    return header + "\n" + rows + "\n"


def load_samples(job: Job) -> tuple[np.ndarray, np.ndarray] | None:
    """Every CSV file of the job's datasets as (features, labels); None when the job has no datasets."""
    tables = []
    for dataset in job.datasets:
        for root, _, files in job.io.walk(dataset.bucket, exclude_hidden=True):
            for name in sorted(f for f in files if f.endswith(".csv")):
                raw = job.io.read_file(f"{root}/{name}")
                tables.append(np.loadtxt(io.BytesIO(raw), delimiter=",", skiprows=1, ndmin=2))
    if not tables:
        return None
    table = np.concatenate(tables)
    return table[:, :-1], table[:, -1]


def split(x: np.ndarray, y: np.ndarray, cfg: DataSettings) -> tuple[np.ndarray, ...]:
    """Shuffle and split into train and test."""
    order = np.random.default_rng(cfg.seed).permutation(len(y))
    n_test = max(1, int(len(y) * cfg.test_fraction))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def loss_and_accuracy(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of the model on (x, y)."""
    p = 1 / (1 + np.exp(-(x @ w + b)))
    eps = 1e-12
    loss = -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
    return float(loss), float(np.mean((p > 0.5) == y))


def curves_chart(history: list[dict]) -> dict:
    """A Vega-Lite line chart of loss and accuracy per epoch."""
    rows = [{"epoch": h["epoch"], "metric": k, "value": h[k]} for h in history for k in ("train_loss", "test_accuracy")]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "Training curves",
        "data": {"values": rows},
        "mark": {"type": "line", "point": True},
        "encoding": {"x": {"field": "epoch", "type": "quantitative"},
                     "y": {"field": "value", "type": "quantitative"},
                     "color": {"field": "metric", "type": "nominal"}},
    }


class LogisticRegressionJob(Job):
    settings: LogisticRegressionSettings

    def run(self) -> str:
        data, training = self.settings.data, self.settings.training
        samples = load_samples(self)
        if samples is None:  # offline without datasets: generate the data
            samples = generate_samples(data.n_samples, data.n_features, data.noise, data.seed)
        x, y, x_test, y_test = split(*samples, data)
        w, b = np.zeros(x.shape[1]), 0.0
        history = []
        for epoch in range(1, training.epochs + 1):
            p = 1 / (1 + np.exp(-(x @ w + b)))
            w -= training.learning_rate * (x.T @ (p - y) / len(y) + training.l2 * w)
            b -= training.learning_rate * float(np.mean(p - y))
            if epoch % training.log_every == 0 or epoch == training.epochs:
                train_loss, train_acc = loss_and_accuracy(w, b, x, y)
                test_loss, test_acc = loss_and_accuracy(w, b, x_test, y_test)
                point = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                         "test_loss": test_loss, "test_accuracy": test_acc}
                history.append(point)
                self.log_metrics(epoch, **{k: v for k, v in point.items() if k != "epoch"})

        buffer = io.BytesIO()
        np.savez(buffer, weights=w, bias=np.array([b]))
        model_path = self.artifact_path("model.npz")
        self.io.write_file(model_path, buffer.getvalue())
        self.upload_chart("training_curves", curves_chart(history))
        self.upload_artifact("history.json", json.dumps(history, indent=2))
        final = history[-1]
        self.add_output_metrics({"test_accuracy": final["test_accuracy"], "test_loss": final["test_loss"],
                                 "train_accuracy": final["train_accuracy"]})
        self.upload_artifact("report.html", _report_html(final, self.settings.get_config()))
        return model_path


def _report_html(final: dict, config: dict) -> str:
    rows = "".join(f"<tr><th>{k}</th><td>{v:.4f}</td></tr>" for k, v in final.items() if k != "epoch")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Logistic regression report</title></head>"
            f"<body><h1>Logistic regression</h1><table>{rows}</table>"
            f"<h2>Settings</h2><pre>{json.dumps(config, indent=2)}</pre>"
            f"<p>Curves: <a href='charts/training_curves.json'>training_curves.json</a></p></body></html>")


if __name__ == "__main__":
    LogisticRegressionJob.init().start()
