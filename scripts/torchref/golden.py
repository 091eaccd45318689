"""--make-golden (the optimizer golden cases and their manifest) and --verify-golden."""

import json
import math
import os
import platform
import shlex
import sys

import torch
import torch.nn.functional as F

from .common import die, MEAN, PYTHON, SCRIPT, STD
from .safetensors import load_safetensors
from .data import file_md5, find_file, load_split
from .optim import _close, Schedule
from .args import build_parser
from .train import train_reference

# --------------------------------------------------------------------------
# --make-golden: the optimizer golden cases and their manifest
# --------------------------------------------------------------------------

GOLDEN_INIT = "parity-init.safetensors"
GOLDEN_COMMON = "--layers 784,16,12,10 --batch-size 64 --no-shuffle --threads 1 --no-eval"

# name, the case's flags, and contrasts: the same case with one feature changed, to show that the
# golden file tells the feature apart (its change differs from the case's by far more than 1e-3).
GOLDEN_CASES = [
    ("adam", "--optimizer adam --epochs 1 --steps 15", [
        ("sgd lr 0.01 momentum 0.5 instead of adam", "--optimizer sgd --epochs 1 --steps 15")]),
    ("adam-wd", "--optimizer adam --weight-decay 0.01 --epochs 1 --steps 15", [
        ("without weight decay", "--optimizer adam --epochs 1 --steps 15"),
        ("adamw's decoupled decay instead of L2", "--optimizer adamw --weight-decay 0.01 --epochs 1 --steps 15")]),
    ("adam-betas-eps", "--optimizer adam --lr 0.002 --beta1 0.8 --beta2 0.99 --eps 0.0001 --epochs 1 --steps 15", [
        ("default betas", "--optimizer adam --lr 0.002 --eps 0.0001 --epochs 1 --steps 15"),
        ("default eps", "--optimizer adam --lr 0.002 --beta1 0.8 --beta2 0.99 --epochs 1 --steps 15")]),
    # AdamW's decay moves w by lr*wd*w a step, not normalised as Adam's step is: with the default
    # 1e-2 it changes the 15-step change by 5e-4, under the parity tolerance, so a larger one.
    ("adamw", "--optimizer adamw --weight-decay 0.3 --epochs 1 --steps 15", [
        ("without weight decay", "--optimizer adamw --weight-decay 0 --epochs 1 --steps 15")]),
    ("sgd-nesterov", "--optimizer sgd --lr 0.01 --momentum 0.9 --nesterov --epochs 1 --steps 15", [
        ("without nesterov", "--optimizer sgd --lr 0.01 --momentum 0.9 --epochs 1 --steps 15")]),
    ("sgd-dampening-wd", "--optimizer sgd --lr 0.01 --momentum 0.9 --dampening 0.3 --weight-decay 0.01 --epochs 1 --steps 30", [
        ("without dampening", "--optimizer sgd --lr 0.01 --momentum 0.9 --weight-decay 0.01 --epochs 1 --steps 30"),
        ("without weight decay", "--optimizer sgd --lr 0.01 --momentum 0.9 --dampening 0.3 --epochs 1 --steps 30")]),
    ("sgd-step", "--optimizer sgd --lr 0.05 --momentum 0.5 --lr-schedule step --lr-step-size 2 --lr-gamma 0.5 "
     "--train-subset 192 --epochs 6 --steps 18", [
         ("constant lr", "--optimizer sgd --lr 0.05 --momentum 0.5 --train-subset 192 --epochs 6 --steps 18")]),
    ("adam-cosine", "--optimizer adam --lr 0.005 --lr-schedule cosine --lr-t-max 5 --lr-eta-min 0.0001 "
     "--train-subset 160 --epochs 5 --steps 15", [
         ("constant lr", "--optimizer adam --lr 0.005 --train-subset 160 --epochs 5 --steps 15")]),
    ("adamw-warmup-cosine", "--optimizer adamw --lr 0.005 --lr-schedule cosine --lr-t-max 4 --warmup-steps 6 "
     "--train-subset 256 --epochs 4 --steps 16", [
         ("without warm-up", "--optimizer adamw --lr 0.005 --lr-schedule cosine --lr-t-max 4 --train-subset 256 --epochs 4 --steps 16"),
         ("warm-up, constant lr", "--optimizer adamw --lr 0.005 --warmup-steps 6 --train-subset 256 --epochs 4 --steps 16")]),
]


def rel_change(init, ours, ref):
    """‖Δours − Δref‖ / ‖Δref‖ with Δ = tensor − init, in float64 (as test/parity.test.ts measures)."""
    a = ours.double() - init.double()
    b = ref.double() - init.double()
    return float((a - b).norm() / b.norm())


def json_text(value, indent=""):
    """JSON, indented, with lists of numbers and short objects kept on one line (readable diffs)."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or len(flat) <= 100 or (
            isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)):
        return flat
    inner = indent + "  "
    if isinstance(value, list):
        return "[\n" + ",\n".join(inner + json_text(v, inner) for v in value) + "\n" + indent + "]"
    return "{\n" + ",\n".join("%s%s: %s" % (inner, json.dumps(k, ensure_ascii=False), json_text(v, inner))
                              for k, v in value.items()) + "\n" + indent + "}"


def make_golden(args):
    out = args.make_golden
    init_path = os.path.join(out, GOLDEN_INIT)
    if not os.path.exists(init_path):
        die("%s is missing (make it first: test/golden/README.md)" % init_path)
    init, _ = load_safetensors(init_path)
    parser = build_parser()
    data_args = ["--data", args.data]

    def run(flags):
        return train_reference(parser.parse_args(data_args + shlex.split(flags)), quiet=True)

    cases = []
    for name, flags, contrasts in GOLDEN_CASES:
        steps = int(flags.split("--steps ")[1].split()[0])
        files = {
            "after": "optim-%s-after-%d.safetensors" % (name, steps),
            "losses": "optim-%s-losses-%d.json" % (name, steps),
            "afterF64": "optim-%s-f64-after-%d.safetensors" % (name, steps),
            "lossesF64": "optim-%s-f64-losses-%d.json" % (name, steps),
        }
        base = "%s --init %s %s" % (GOLDEN_COMMON, init_path, flags)
        cmd32 = "%s --save %s --loss-log %s" % (base, os.path.join(out, files["after"]), os.path.join(out, files["losses"]))
        cmd64 = "%s --dtype float64 --save %s --loss-log %s" % (
            base, os.path.join(out, files["afterF64"]), os.path.join(out, files["lossesF64"]))
        r32, r64 = run(cmd32), run(cmd64)
        if r32["steps"] != steps or r64["steps"] != steps:
            die("%s: ran %d steps, wanted %d" % (name, r32["steps"], steps))
        if r32["lrs"] != r64["lrs"]:
            die("%s: float32 and float64 runs used different learning rates" % name)
        spread = {k: rel_change(init[k], r32["state"][k], r64["state"][k]) for k in init}
        contrast_out = []
        for what, cflags in contrasts:
            rc = run("%s --init %s %s" % (GOLDEN_COMMON, init_path, cflags))
            per = {k: rel_change(init[k], rc["state"][k], r32["state"][k]) for k in init}
            contrast_out.append({"what": what, "flags": cflags, "changeRelL2": per, "min": min(per.values())})
        cases.append({
            "name": name,
            "optimizer": r32["optimizer"],
            "schedule": r32["schedule"],
            "steps": steps,
            "batchSize": 64,
            "trainSubset": r32["n"],
            "epochs": r32["epochs"],
            "stepsPerEpoch": r32["steps_per_epoch"],
            "shuffle": False,
            "init": GOLDEN_INIT,
            "files": files,
            "lrPerStep": r32["lrs"],
            "spread": {
                "changeRelL2": spread,
                "max": max(spread.values()),
                "lossMaxAbs": max(abs(a - b) for a, b in zip(r32["losses"], r64["losses"])),
            },
            "contrasts": contrast_out,
            "commands": {"float32": "%s %s %s" % (PYTHON, SCRIPT, cmd32), "float64": "%s %s %s" % (PYTHON, SCRIPT, cmd64)},
        })
        print("%-20s spread max %.2e  loss %.1e  contrasts min %s" % (
            name, cases[-1]["spread"]["max"], cases[-1]["spread"]["lossMaxAbs"],
            ", ".join("%.2e" % c["min"] for c in contrast_out)), file=sys.stderr)

    manifest = {
        "format": 1,
        "about": "PyTorch golden cases for the optimizers and learning-rate schedules; test/golden/README.md describes every field",
        "remake": "%s %s --make-golden %s" % (PYTHON, SCRIPT, out),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mnist": {
            "train-images-idx3-ubyte.gz": file_md5(find_file(args.data, "train-images-idx3-ubyte")),
            "train-labels-idx1-ubyte.gz": file_md5(find_file(args.data, "train-labels-idx1-ubyte")),
        },
        "model": {"layers": [784, 16, 12, 10], "init": GOLDEN_INIT, "loss": "CrossEntropyLoss (mean over the batch)",
                  "normalization": {"mean": MEAN, "std": STD}},
        "spreadMetric": "per tensor: |Δ32 − Δ64|₂ / |Δ64|₂ with Δ = after − init (float32 run vs the float64 run "
                        "of the same case from the same float32 init and inputs); max: over tensors",
        "cases": cases,
    }
    path = os.path.join(out, "optimizers.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(json_text(manifest) + "\n")
    print("wrote %s (%d cases)" % (path, len(cases)), file=sys.stderr)


def verify_golden(args):
    """Replays every case of DIR/optimizers.json with the update rules written out by hand (the
    rules test/golden/README.md documents, not torch.optim) and the closed-form schedule, in
    float64, and compares with the float64 golden files: the README's rules are torch's."""
    out = args.verify_golden
    with open(os.path.join(out, "optimizers.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    torch.set_default_dtype(torch.float64)
    x_all, y_all = load_split(args.data, "train")
    worst = 0.0
    for c in manifest["cases"]:
        init, _ = load_safetensors(os.path.join(out, c["init"]))
        ref, _ = load_safetensors(os.path.join(out, c["files"]["afterF64"]))
        with open(os.path.join(out, c["files"]["lossesF64"])) as f:
            ref_losses = json.load(f)
        names = list(init)
        w = [init[k].double().clone() for k in names]
        o, sc = c["optimizer"], c["schedule"]
        sched = Schedule(sc["kind"], o["lr"], sc.get("stepSize", 1), sc.get("gamma", 0.1), sc.get("tMax", 1),
                         sc.get("etaMin", 0.0), sc["warmupSteps"])
        x, y = x_all[:c["trainSubset"]].double(), y_all[:c["trainSubset"]]
        B, n = c["batchSize"], c["trainSubset"]
        state = [dict() for _ in w]
        losses = []
        for s in range(c["steps"]):
            e, b = divmod(s, c["stepsPerEpoch"])
            xb, yb = x[b * B:(b + 1) * B], y[b * B:(b + 1) * B]
            lr = sched.lr(s, e)
            assert _close(lr, c["lrPerStep"][s], o["lr"]), (c["name"], s, lr, c["lrPerStep"][s])
            params = [t.clone().requires_grad_(True) for t in w]
            h = xb
            for i in range(0, len(params) - 2, 2):
                h = torch.relu(h @ params[i].t() + params[i + 1])
            loss = F.cross_entropy(h @ params[-2].t() + params[-1], yb)
            grads = torch.autograd.grad(loss, params)
            losses.append(loss.item())
            t = s + 1
            for i, (p, g) in enumerate(zip(w, grads)):
                st = state[i]
                if o["kind"] == "sgd":
                    if o["weightDecay"]:
                        g = g + o["weightDecay"] * p
                    if o["momentum"]:
                        # first step: buf = g (no dampening); then buf = momentum*buf + (1-dampening)*g
                        st["buf"] = g.clone() if "buf" not in st else o["momentum"] * st["buf"] + (1 - o["dampening"]) * g
                        g = g + o["momentum"] * st["buf"] if o["nesterov"] else st["buf"]
                    w[i] = p - lr * g
                else:
                    b1, b2 = o["betas"]
                    if o["kind"] == "adamw":
                        p = p * (1 - lr * o["weightDecay"])  # decoupled, with this step's lr
                    elif o["weightDecay"]:
                        g = g + o["weightDecay"] * p  # L2, into the gradient (and so into both moments)
                    st["m"] = b1 * st.get("m", torch.zeros_like(p)) + (1 - b1) * g
                    st["v"] = b2 * st.get("v", torch.zeros_like(p)) + (1 - b2) * g * g
                    denom = st["v"].sqrt() / math.sqrt(1 - b2 ** t) + o["eps"]  # eps after the square root
                    w[i] = p - (lr / (1 - b1 ** t)) * st["m"] / denom
        err = max(rel_change(init[k], w[i], ref[k]) for i, k in enumerate(names))
        lerr = max(abs(a - b) for a, b in zip(losses, ref_losses))
        worst = max(worst, err)
        print("%-20s by-hand float64 vs torch float64: change rel err %.1e, loss %.1e" % (c["name"], err, lerr), file=sys.stderr)
        if err > 1e-9 or lerr > 1e-12:
            die("%s: the hand-written rules disagree with torch.optim" % c["name"])
    print("all %d cases agree (worst %.1e)" % (len(manifest["cases"]), worst), file=sys.stderr)
