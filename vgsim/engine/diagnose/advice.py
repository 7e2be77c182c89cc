"""What a finding says: its kinds, the lecture's remedies and explanations, and the finding as
a record (JSON for summary.json, one line for the terminal)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..schema import RELU_FAMILY, SATURATING
from .facts import NetworkFacts
from .thresholds import LEARN_STEPS, MIN_STEPS

REMEDY_KEYS = (
    "xavier_init",
    "he_init",
    "non_saturating",
    "batchnorm",
    "clip",
    "l2",
    "skip",
    "fewer_layers",
    "lower_lr",
    "leaky_relu",
    "raise_lr",
    "dropout",
)
KINDS = (
    "diverged",
    "lr_too_high",
    "not_learning",
    "exploding",
    "vanishing",
    "saturated",
    "dying_relu",
    "overfitting",
)
SEVERITIES = ("warning", "error")
_HE_INITS = ("he_normal", "he_uniform")
_XAVIER_INITS = ("xavier_uniform", "xavier_normal")


@dataclass(frozen=True)
class Remedy:
    key: str  # one of REMEDY_KEYS
    title: str
    explanation: str  # one sentence, in the lecture's words


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    title: str
    severity: str  # "warning" or "error"
    evidence: str  # the numbers behind the finding
    explanation: str  # what the lecture says causes it
    nodes: tuple[str, ...]  # the blocks concerned, for highlighting on the canvas
    remedies: tuple[Remedy, ...]
    step: int | None = None  # the newest step the finding rests on (the step that diverged)
    figures: dict[str, float] = field(default_factory=dict, compare=False)  # rule's measures

    def to_dict(self) -> dict:
        """The finding as summary.json keeps it (see docs/api.md, "Diagnosis")."""
        return {
            "kind": self.kind,
            "title": self.title,
            "severity": self.severity,
            "nodes": list(self.nodes),
            "step": self.step,
            "evidence": self.evidence,
            "explanation": self.explanation,
            "remedies": [{"key": r.key, "title": r.title} for r in self.remedies],
            "figures": {k: (v if math.isfinite(v) else None) for k, v in self.figures.items()},
        }

    def line(self) -> str:
        return finding_line(self.to_dict())


def finding_line(d: dict) -> str:
    """One line of a finding (as `Finding.to_dict` gives it): severity, kind, where, evidence,
    remedies."""
    where = ", ".join(d["nodes"]) if d.get("nodes") else "the whole network"
    if d.get("step") is not None:
        where += f" (step {d['step']})"
    remedies = "; ".join(r["title"] for r in d.get("remedies", ())) or "none"
    return f"{d['severity']}: {d['kind']} at {where}: {d['evidence']} Remedies: {remedies}."


def findings_report(findings: list[dict], steps: int) -> list[str]:
    """What `vgsim run` prints about the findings (as summary.json keeps them) of `steps`
    steps: a line each, or what no finding means so far."""
    if not findings:
        if steps < MIN_STEPS:
            return [f"diagnosis: too few steps to judge ({steps}; it speaks from {MIN_STEPS})"]
        if steps < LEARN_STEPS:
            return [
                "diagnosis: no findings: gradients reach every layer at a similar size; whether "
                f"the loss leaves chance level is judged from step {LEARN_STEPS}"
            ]
        return ["diagnosis: no findings (healthy)"]
    count = f"{len(findings)} finding{'s' if len(findings) > 1 else ''}"
    return [f"diagnosis: {count}"] + ["  " + finding_line(d) for d in findings]


def finding_from_dict(d: dict) -> Finding:
    """A finding read back from summary.json (remedy explanations from the lecture's text)."""
    return Finding(
        kind=str(d["kind"]),
        title=str(d["title"]),
        severity=str(d["severity"]),
        evidence=str(d["evidence"]),
        explanation=str(d.get("explanation", "")),
        nodes=tuple(str(n) for n in d.get("nodes", ())),
        remedies=tuple(
            Remedy(str(r["key"]), str(r["title"]), REMEDY_TEXT.get(r["key"], ("", ""))[1])
            for r in d.get("remedies", ())
        ),
        step=None if d.get("step") is None else int(d["step"]),
        figures={k: (math.nan if v is None else float(v)) for k, v in d.get("figures", {}).items()},
    )


REMEDY_TEXT = {
    "xavier_init": (
        "Switch to Xavier (Glorot) initialisation",
        "Xavier initialisation draws each weight from [-x, x] with "
        "x = sqrt(6 / (n_inputs + n_outputs)), so each layer's outputs keep the "
        "variance of its inputs and the gradients keep their variance flowing back.",
    ),
    "he_init": (
        "Switch to He initialisation",
        "He initialisation with a ReLU-family activation significantly reduces the "
        "chances of vanishing or exploding gradients at the beginning of training.",
    ),
    "non_saturating": (
        "Use ReLU or a variant (non-saturating)",
        "Sigmoid and tanh saturate for large inputs with a derivative close to "
        "zero; non-saturating functions like ReLU and its variants do not.",
    ),
    "batchnorm": (
        "Add batch normalisation",
        "Batch normalisation zero-centres and normalises each layer's inputs over the "
        "mini-batch, then learns their best scale and mean.",
    ),
    "clip": (
        "Clip the gradients",
        "Gradient clipping caps the derivatives at a threshold and updates the weights "
        "with the capped gradients.",
    ),
    "l2": (
        "Add L2 regularisation",
        "L2 regularisation adds lambda * sum(w^2) to the loss, penalising large weights, which "
        "often results in smaller weight updates throughout the network.",
    ),
    "skip": (
        "Add skip connections (residual blocks)",
        "A skip connection adds a layer's input to a later layer's output, so the gradient "
        "has a short path back to the lower layers.",
    ),
    "fewer_layers": (
        "Use fewer layers",
        "With fewer layers the gradient is multiplied fewer times on its way back, "
        "at some cost to the network's ability to learn complex features.",
    ),
    "lower_lr": (
        "Lower the learning rate",
        "Large gradients times a large learning rate make very large weight updates, "
        "which lead to an unstable network; a smaller rate makes smaller updates.",
    ),
    "raise_lr": (
        "Raise the learning rate",
        "A learning rate that is too small makes updates so small that the weights barely "
        "move, and gradient descent takes forever to reach the minimum.",
    ),
    "leaky_relu": (
        "Switch to Leaky ReLU (or PReLU, ELU, SELU)",
        "Leaky ReLU and the other ReLU variants keep a small gradient for negative "
        "inputs, so a unit cannot die and keep on throwing 0 as its output.",
    ),
    "dropout": (
        "Add dropout",
        "Dropout switches each unit off with probability p at every training step and scales "
        "the others by 1/(1-p), so no unit can count on another and the network cannot learn "
        "single rows by heart; in evaluation nothing is dropped.",
    ),
}

EXPLAIN = {
    "vanishing": "As backpropagation moves from the output layer toward the input, the "
    "gradient gets smaller and smaller and approaches zero, leaving the weights of "
    "the lower layers nearly unchanged; gradient descent then never converges to the "
    "optimum.",
    "vanishing_saturating": "As backpropagation moves from the output layer toward the input, "
    "the gradient is multiplied by the sigmoid/tanh derivative at every "
    "layer (at most 0.25 for sigmoid) and keeps diluting, leaving "
    "nothing for the lower layers, whose weights then barely change.",
    "exploding": "The gradients keep getting larger as backpropagation progresses, which causes "
    "very large weight updates and makes gradient descent diverge; the weights can "
    "grow exponentially until they overflow to NaN.",
    "diverged": "Very large gradients made very large weight updates until the numbers "
    "overflowed to NaN or infinity: the end point of exploding gradients.",
    "saturated": "For large positive or negative inputs sigmoid and tanh saturate, with a "
    "derivative very close to zero, so almost no gradient passes back through these "
    "units to the layers below.",
    "dying_relu": "Dying ReLUs: a unit whose input is negative for every sample keeps on "
    "throwing 0 as output and passes back no gradient, so its weights stop changing "
    "and it stays dead.",
    "not_learning": "A network that predicts no better than the class frequencies (or the mean "
    "target) has learnt nothing from its inputs: gradient descent is not moving the "
    "weights that matter, most often because the gradient has vanished on its way to the "
    "lower layers.",
    "lr_too_high": "With a learning rate that is too large, each update overshoots the "
    "minimum it steps toward: the loss jumps up instead of going down and keeps bouncing, "
    "and the large updates can push sigmoid and tanh units into saturation.",
    "overfitting": "A network with many more weights than training rows can learn those rows by "
    "heart, noise and all: its training loss goes to zero while its predictions for rows it "
    "has not seen get worse. The gradients flow well; the fault is capacity and too little "
    "data, and the remedies restrain the weights or the units.",
}


def remedies_for(facts: NetworkFacts, keys: list[str]) -> tuple[Remedy, ...]:
    """The remedies named by `keys`, in order, leaving out those already in place. "init" is
    He for a mostly ReLU-family network, Xavier otherwise."""
    dense = [i for i, t in enumerate(facts.types) if t == "dense"]
    hidden = [i for i in dense if i not in head_dense(facts)] or dense
    inits = {facts.inits[facts.ids[i]] for i in hidden}
    acts = [facts.functions[i] for i, t in enumerate(facts.types) if t == "activation"]
    relu_like = sum(fn in RELU_FAMILY for fn in acts)
    relu_family = relu_like > 0 and relu_like >= len(acts) - relu_like
    out: list[Remedy] = []
    for key in keys:
        if key == "init":
            key = "he_init" if relu_family else "xavier_init"
        if key == "he_init" and inits <= set(_HE_INITS):
            continue
        if key == "xavier_init" and inits <= set(_XAVIER_INITS):
            continue
        if key == "non_saturating" and not any(fn in SATURATING for fn in acts):
            continue
        if key == "batchnorm" and "batchnorm" in facts.types:
            continue
        if key == "skip" and any(len(p) > 1 for p in facts.preds):
            continue
        if key == "dropout" and "dropout" in facts.types:
            continue
        if key in (r.key for r in out):
            continue
        title, text = REMEDY_TEXT[key]
        if key == "clip" and facts.clip_mode != "none":
            title = "Clip harder (a lower clipping threshold)"
        if key == "l2" and facts.l2 > 0:
            title = "Strengthen the L2 regularisation"
        if key == "lower_lr":
            title = f"Lower the learning rate (to {facts.lr / 10:.3g})"
        if key == "raise_lr":
            title = f"Raise the learning rate (to {facts.lr * 10:.3g})"
        out.append(Remedy(key, title, text))
    return tuple(out)


def head_dense(facts: NetworkFacts) -> set[int]:
    """Dense blocks that feed the output through nothing but activations and batch norms."""
    head: set[int] = set()
    todo, seen = list(facts.preds[facts.out_idx]), set()
    while todo:
        i = todo.pop()
        if i in seen:
            continue
        seen.add(i)
        if facts.types[i] == "dense":
            head.add(i)
        elif facts.types[i] != "input":
            todo += facts.preds[i]
    return head
