"""Evaluation: the training and test figures of a Trainer, and predictions, in evaluation
mode through the step kernel without batches."""

from __future__ import annotations

import math

import numpy as np

from .kernels import plan as k

# Evaluation, by default ("auto"): the first EVAL_ROWS rows of the (shuffled) training set and
# of the test set, after steps 0, n, 2n, ... where n keeps its forward passes near 6% of the
# training's work: a training step costs about two evaluated rows per batch row, so n is
# EVAL_COST steps per evaluated row per batch row, in tens.
EVAL_ROWS = 512
EVAL_COST = 8


def evaluation_plan(cfg: dict, n_train: int, n_test: int) -> tuple[int, int, int]:
    """(training rows, test rows, every): what each evaluation covers and how often it runs,
    from the `eval_rows` and `eval_every` settings ("auto", "all" or a number)."""
    rows = cfg.get("eval_rows", "auto")
    if rows == "all":
        train_rows, test_rows = n_train, n_test
    else:
        cap = EVAL_ROWS if rows == "auto" else int(rows)
        train_rows, test_rows = min(n_train, cap), min(n_test, cap)
    every = cfg.get("eval_every", "auto")
    if every == "auto":
        steps = EVAL_COST * (train_rows + test_rows) / int(cfg["batch_size"])
        every = max(10, 10 * math.ceil(steps / 10))
    return train_rows, test_rows, int(every)


class Evaluating:
    """Mixed into Trainer: the methods read and write its buffers."""

    def evaluate(self, full: bool = False) -> dict[str, float]:
        """Data loss and accuracy in evaluation mode over the evaluated rows (`eval_rows`: the
        first rows of the training and the test set), which become `last_eval`, the figures
        every later step carries. `full`: over the whole sets instead, changing nothing."""
        glob = np.full((1, k.N_GLOB), np.nan)
        if full:
            self._evaluate_rows(
                self.X_train,
                self.lab_train,
                self.tgt_train,
                glob,
                self._no_out,
                self._no_evaluation_full,
            )
            return self._evaluated(glob[0], (len(self.X_train), len(self.X_test)))
        self._evaluate_rows(*self._eval_train, glob, self._no_out)
        self.last_eval = self._evaluated(glob[0], self.eval_rows)
        return dict(self.last_eval)

    @property
    def evaluation(self) -> dict:
        """What each evaluation covers, for a run's summary: after which steps, and which rows
        of which set (the first `train_rows` of the `train_total` training rows, ...)."""
        return {
            "every": self.eval_every,
            "rows": "first",
            "train_rows": self.eval_rows[0],
            "train_total": len(self.X_train),
            "test_rows": self.eval_rows[1],
            "test_total": len(self.X_test),
        }

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs (logits, or values for regression) for rows of X, in
        evaluation mode; changes nothing. Used for decision boundaries."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        out = np.empty((X.shape[0], self.plan.width_out[self.plan.out_idx]))
        if X.shape[0] == 0:
            return out
        labels = np.zeros(X.shape[0], np.int64)
        targets = np.zeros((X.shape[0], self.tgt_train.shape[1]))
        self._evaluate_rows(X, labels, targets, np.full((1, k.N_GLOB), np.nan), out)
        return out

    def _evaluation(self, test: tuple, first: int | None = None) -> tuple:
        """train_steps' `evaluation`: the test rows and the evaluation buffers; with `first`
        (the block's first step number), the whole training set and `test` are evaluated after
        every step due, else never between steps."""
        return tuple(
            k.Evaluation(
                test=test,
                rows_eval=self._rows_eval,
                chunk=self.rows_eval,
                every=0 if first is None else self.eval_every,
                first=0 if first is None else first,
            )
        )

    def _evaluate_rows(
        self,
        X: np.ndarray,
        labels: np.ndarray,
        targets: np.ndarray,
        glob: np.ndarray,
        out: np.ndarray,
        evaluation: tuple | None = None,
    ) -> None:
        """The step kernel without batches: evaluate X (and the evaluated test rows, or those
        of `evaluation`, unless predicting into `out`), into glob[0]."""
        k.train_steps(
            tuple(k.Samples(X=X, labels=labels, targets=targets)),
            np.zeros((0, self.batch_size), np.int64),
            self._graph,
            self._rows,
            self._state,
            self._optimiser,
            0,
            tuple(
                k.Figures(
                    stats_block=np.zeros((1, *self.stats.shape)),
                    hist=np.zeros_like(self.hist),
                    glob_block=glob,
                )
            ),
            self._no_evaluation if evaluation is None else evaluation,
            out,
        )

    def _evaluated(self, glob_row: np.ndarray, rows: tuple[int, int]) -> dict[str, float]:
        """last_eval's figures from a kernel's G_TRAIN_* and G_TEST_* columns, over `rows`
        (training, test) rows."""

        def accuracy(correct: float, n: int) -> float:
            return float(correct) / n if self.classify and n else np.nan

        return {
            "train_loss": float(glob_row[k.G_TRAIN_LOSS]),
            "train_accuracy": accuracy(glob_row[k.G_TRAIN_CORRECT], rows[0]),
            "test_loss": float(glob_row[k.G_TEST_LOSS]),
            "test_accuracy": accuracy(glob_row[k.G_TEST_CORRECT], rows[1]),
        }
