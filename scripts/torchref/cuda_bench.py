"""The timing run: --device cuda (or --bench on the CPU), eager and CUDA-graph modes."""

import contextlib
import json
import os
import platform
import time
import warnings

import torch
import torch.nn as nn

from .common import die
from .data import load_split
from .model import build_model, epoch_permutation, evaluate, state_tensors
from .optim import make_optimizer, optimizer_config, Schedule, ScheduleDriver
from .train import setup_torch

# --------------------------------------------------------------------------
# Timing run: --device cuda (or --bench on the CPU)
# --------------------------------------------------------------------------

def matmul_precision():
    try:
        return torch.get_float32_matmul_precision()
    except Exception:  # an API that a later torch may drop; the figure is informative only
        return None


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BenchRun:
    """One process, several modes, each from the same init and the same shuffle stream."""

    def __init__(self, args):
        self.args = args
        self.device = torch.device(args.device or "cpu")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            die("--device cuda: torch %s sees no CUDA device" % torch.__version__)
        setup_torch(args)
        self.epochs = args.epochs if args.epochs is not None else 10
        if args.dtype != "float32":
            die("the timing run is float32 only")
        self.cfg = optimizer_config(args)
        self.impl = args.optimizer_impl or ("auto" if self.device.type == "cuda" else "single")
        model = build_model(args)
        self.init_state = state_tensors(model)
        self.rng_state = torch.get_rng_state()  # after init: the shuffle stream of the reference run
        self.model = model.to(self.device)
        x_train, y_train = load_split(args.data, "train")
        x_test, y_test = load_split(args.data, "t10k")
        if args.train_subset:
            x_train, y_train = x_train[:args.train_subset], y_train[:args.train_subset]
        # the whole data set lives on the device; batches are sliced (or gathered) there
        self.x_train, self.y_train = x_train.to(self.device), y_train.to(self.device)
        self.x_test, self.y_test = x_test.to(self.device), y_test.to(self.device)
        self.n = self.x_train.shape[0]
        self.B = args.batch_size
        self.nbatches = (self.n + self.B - 1) // self.B
        self.criterion = nn.CrossEntropyLoss()

    def reset(self):
        torch.set_rng_state(self.rng_state)
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                v.copy_(self.init_state[k])

    def epoch_data(self):
        if self.args.no_shuffle:
            return self.x_train, self.y_train
        perm = epoch_permutation(self.n).to(self.device)
        return self.x_train.index_select(0, perm), self.y_train.index_select(0, perm)

    def batches(self):
        """(epoch, batch index, start, size) of every step, --steps included."""
        step = 0
        for epoch in range(self.epochs):
            for b in range(self.nbatches):
                yield epoch, b, b * self.B, min(self.B, self.n - b * self.B)
                step += 1
                if self.args.steps and step >= self.args.steps:
                    return

    def batch_sizes(self):
        """Full batches, and the last partial batch if the data set has one (a graph per size)."""
        return sorted({self.B} | ({self.n % self.B} if self.n % self.B else set()), reverse=True)

    def warm_up(self, opt, static, stream):
        """3 steps per batch size (lazy cuBLAS/allocator state, the optimizer's state tensors), then
        the weights put back, so that the timed run starts from the init; not timed."""
        model = self.model
        params = list(model.parameters())
        saved = [p.detach().clone() for p in params]
        with (torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # capturable=True running uncaptured
            for s, (xs, ys) in static.items():
                for _ in range(3):
                    opt.zero_grad(set_to_none=True)
                    self.criterion(model(xs), ys).backward()
                    opt.step()
        if stream is not None:
            torch.cuda.current_stream().wait_stream(stream)
        with torch.no_grad():
            for p, v in zip(params, saved):
                p.copy_(v)

    def run_eager(self):
        self.reset()
        opt = make_optimizer(self.model.parameters(), self.cfg, self.impl)
        t0 = time.perf_counter()
        self.warm_up(opt, {s: (self.x_train[:s], self.y_train[:s]) for s in self.batch_sizes()}, None)
        opt.state.clear()  # fresh optimizer state, exactly as a new optimizer's
        sync(self.device)
        setup_s = time.perf_counter() - t0
        driver = ScheduleDriver(opt, Schedule.from_args(self.args, self.cfg["lr"], self.epochs))
        return self._loop(opt, driver, graphs=None, setup_s=setup_s)

    def run_graph(self):
        if self.device.type != "cuda":
            die("mode graph needs --device cuda")
        if self.args.lr_schedule != "constant" or self.args.warmup_steps > 1:
            die("mode graph bakes the lr into the graph: use a constant lr (or mode eager)")
        self.reset()
        model, dev = self.model, self.device
        opt = make_optimizer(model.parameters(), self.cfg, self.impl, capturable=True)
        sizes = self.batch_sizes()
        # static input/label buffers: each step copies its batch into them, then replays
        static = {s: (self.x_train[:s].clone(), self.y_train[:s].clone()) for s in sizes}
        self.loss_sum = torch.zeros((), device=dev)
        t0 = time.perf_counter()
        side = torch.cuda.Stream()  # warm-up before capture runs on a side stream (torch.cuda.graphs docs)
        side.wait_stream(torch.cuda.current_stream())
        self.warm_up(opt, static, side)
        with torch.no_grad():
            # The state must exist before capture (the graph updates it in place), so it is zeroed,
            # not dropped: zero = fresh for Adam/AdamW (step 0, zero moments) and for SGD with
            # dampening 0 (buf = momentum*0 + grad is the gradient, as torch's first step takes it).
            for st in opt.state.values():
                for v in st.values():
                    if torch.is_tensor(v):
                        v.zero_()
        # One graph per batch size, each the whole step: forward, loss, backward, optimizer step.
        graphs = {}
        for s in sizes:
            opt.zero_grad(set_to_none=True)  # backward allocates .grad from the graph's pool
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                loss = self.criterion(model(static[s][0]), static[s][1])
                loss.backward()
                opt.step()
                self.loss_sum.add_(loss.detach())
            graphs[s] = g
        sync(dev)
        setup_s = time.perf_counter() - t0
        return self._loop(opt, None, graphs=(graphs, static), setup_s=setup_s)

    def _loop(self, opt, driver, graphs, setup_s):
        dev, model, crit = self.device, self.model, self.criterion
        loss_sum = self.loss_sum if graphs else torch.zeros((), device=dev)
        epoch_losses, epoch_marks = [], []
        steps = 0
        cur_epoch, xe, ye, count = -1, None, None, 0

        def close_epoch():
            loss_sum_v = loss_sum.item()  # synchronizes: once per epoch
            epoch_losses.append(loss_sum_v / count)
            epoch_marks.append(time.perf_counter())

        sync(dev)
        t0 = time.perf_counter()
        for epoch, b, start, size in self.batches():
            if epoch != cur_epoch:
                if cur_epoch >= 0:
                    close_epoch()
                cur_epoch, count = epoch, 0
                loss_sum.zero_()
                xe, ye = self.epoch_data()
                if driver is not None and epoch > 0:
                    driver.after_epoch()
            if graphs is None:
                driver.lr_before_step(steps, epoch)
                opt.zero_grad(set_to_none=True)
                loss = crit(model(xe[start:start + size]), ye[start:start + size])
                loss.backward()
                opt.step()
                driver.after_batch()
                loss_sum.add_(loss.detach())
            else:
                g, static = graphs
                static[size][0].copy_(xe[start:start + size])
                static[size][1].copy_(ye[start:start + size])
                g[size].replay()
            steps += 1
            count += 1
        close_epoch()
        sync(dev)
        seconds = time.perf_counter() - t0
        correct, total = evaluate(model, self.x_test, self.y_test, chunk=10000)
        marks = [t0] + epoch_marks
        epoch_seconds = [b - a for a, b in zip(marks, marks[1:])]
        steady = None
        if len(epoch_seconds) > 1:  # epochs after the first, which pays for lazy initialisation
            steady = 1e6 * sum(epoch_seconds[1:]) / (steps - self.nbatches)
        return {
            "steps": steps,
            "seconds": seconds,
            "per_step_us": 1e6 * seconds / steps,
            "steady_per_step_us": steady,
            "epoch_seconds": epoch_seconds,
            "epoch_mean_loss": epoch_losses,
            "setup_seconds": setup_s,
            "test_acc": correct / total,
        }

    def device_name(self):
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return "cpu (%s, %d threads)" % (platform.processor() or platform.machine(), torch.get_num_threads())


def run_bench(args):
    bench = BenchRun(args)
    cuda = bench.device.type == "cuda"
    modes = (args.modes or ("eager,graph" if cuda else "eager")).split(",")
    for m in modes:
        if m not in ("eager", "graph"):
            die("--modes: unknown mode %r (eager, graph)" % m)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        open(args.out, "w").close()
    for mode in modes:
        r = bench.run_eager() if mode == "eager" else bench.run_graph()
        line = {
            "device": bench.device_name(),
            "torch": torch.__version__,
            "mode": mode,
            "epochs": r["steps"] / bench.nbatches,
            "seconds": round(r["seconds"], 4),
            "per_step_us": round(r["per_step_us"], 2),
            "test_acc": r["test_acc"],
            "steady_per_step_us": None if r["steady_per_step_us"] is None else round(r["steady_per_step_us"], 2),
            "steps": r["steps"],
            "batch_size": bench.B,
            "train_samples": bench.n,
            "layers": args.layers,
            "optimizer": bench.cfg,
            "optimizer_impl": bench.impl,
            "shuffle": not args.no_shuffle,
            "setup_seconds": round(r["setup_seconds"], 4),  # warm-up (+ capture), not timed
            "epoch_seconds": [round(s, 4) for s in r["epoch_seconds"]],
            "epoch_mean_loss": [round(v, 6) for v in r["epoch_mean_loss"]],
            "float32_matmul_precision": matmul_precision(),
            "cuda": torch.version.cuda if cuda else None,
        }
        text = json.dumps(line)
        print(text, flush=True)
        if args.out:
            with open(args.out, "a") as f:  # each mode as it finishes: a later timeout keeps it
                f.write(text + "\n")
