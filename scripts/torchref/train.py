"""Reference training on the CPU (the tutorial loop), also the golden runs."""

import json
import os
import sys
import time

import torch
import torch.nn as nn

from .common import die
from .safetensors import save_safetensors
from .data import load_split
from .model import build_model, epoch_permutation, evaluate, state_tensors
from .optim import make_optimizer, optimizer_config, Schedule, ScheduleDriver

# --------------------------------------------------------------------------
# Reference training (CPU) and golden runs
# --------------------------------------------------------------------------

def setup_torch(args):
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)


def train_reference(args, quiet=False):
    """The tutorial loop; returns {state, losses, lrs, steps, steps_per_epoch, epochs}."""
    setup_torch(args)
    epochs = args.epochs if args.epochs is not None else 1
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    cfg = optimizer_config(args)
    model = build_model(args)
    meta_common = {
        "torch_version": torch.__version__,
        "layers": args.layers,
        "seed": args.seed,
        "init": os.path.basename(args.init) if args.init else "nn.Linear default (manual_seed)",
    }
    if args.save_init:
        save_safetensors(args.save_init, state_tensors(model), dict(meta_common, what="init"))
    model = model.to(dtype)

    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")
    if args.train_subset:
        if not 0 < args.train_subset <= x_train.shape[0]:
            die("--train-subset must be in 1..%d" % x_train.shape[0])
        x_train, y_train = x_train[:args.train_subset], y_train[:args.train_subset]
    x_train, x_test = x_train.to(dtype), x_test.to(dtype)
    n = x_train.shape[0]
    B = args.batch_size
    nbatches = (n + B - 1) // B

    optimizer = make_optimizer(model.parameters(), cfg, args.optimizer_impl or "single")
    sched = Schedule.from_args(args, cfg["lr"], epochs)
    driver = ScheduleDriver(optimizer, sched)
    criterion = nn.CrossEntropyLoss()

    losses, lrs = [], []
    step = 0
    done = False
    model.train()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        perm = None if args.no_shuffle else epoch_permutation(n)
        running = 0.0
        for batch_idx in range(nbatches):
            if perm is None:
                xb = x_train[batch_idx * B:(batch_idx + 1) * B]
                yb = y_train[batch_idx * B:(batch_idx + 1) * B]
            else:
                idx = perm[batch_idx * B:(batch_idx + 1) * B]
                xb = x_train.index_select(0, idx)
                yb = y_train.index_select(0, idx)
            lrs.append(driver.lr_before_step(step, epoch))
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            driver.after_batch()
            step += 1
            lv = loss.item()
            losses.append(lv)
            running += lv
            if not quiet and batch_idx % args.log_interval == args.log_interval - 1:
                print("[%d, %5d] loss: %.3f" % (epoch + 1, batch_idx + 1, running / args.log_interval))
                running = 0.0
            if args.steps and step >= args.steps:
                done = True
                break
        finished_epoch = not done or batch_idx == nbatches - 1
        if finished_epoch:
            driver.after_epoch()
        if not quiet:
            dt = time.perf_counter() - t0
            print("epoch %d: %d steps, train time %.2f s" % (epoch + 1, batch_idx + 1, dt), file=sys.stderr)
        if not args.no_eval and (finished_epoch or args.eval):
            correct, total = evaluate(model, x_test, y_test)
            print("Accuracy on test set: %d %%" % (100 * correct // total))
            print("(test: %d / %d correct = %.2f %%)" % (correct, total, 100.0 * correct / total), file=sys.stderr)
        if done:
            break

    state = state_tensors(model)
    if args.save:
        save_safetensors(args.save, state, dict(
            meta_common, what="after %d steps" % step, steps=step, batch_size=B, dtype=args.dtype,
            train_subset=args.train_subset or x_train.shape[0], shuffle=not args.no_shuffle,
            optimizer=json.dumps(cfg, sort_keys=True), schedule=json.dumps(sched.describe(), sort_keys=True),
            # the SGD-only keys the first golden files had
            **({"lr": cfg["lr"], "momentum": cfg["momentum"]} if cfg["kind"] == "sgd" else {})))
    if args.loss_log:
        os.makedirs(os.path.dirname(os.path.abspath(args.loss_log)), exist_ok=True)
        with open(args.loss_log, "w") as f:
            # repr of a Python float holding the float32 (float64) value: round-trips exactly
            f.write("[" + ",\n".join(repr(float(v)) for v in losses) + "]\n")
    return dict(state=state, losses=losses, lrs=lrs, steps=step, steps_per_epoch=nbatches, epochs=epochs,
                optimizer=cfg, schedule=sched.describe(), n=n)
