"""Optimizers (torch.optim with the engine's hyper-parameter names) and learning-rate schedules."""

import inspect
import math

import torch

from .common import die

# --------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------

OPTIMIZER_DEFAULTS = {
    "sgd": dict(lr=0.01, momentum=0.5, dampening=0.0, nesterov=False, weight_decay=0.0),
    "adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0),
    "adamw": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2),
}


def optimizer_config(args):
    """The optimizer's hyper-parameters with torch's defaults filled in, in the engine's (camelCase)
    names, as the manifest records them. A flag that the optimizer does not have is an error."""
    kind = args.optimizer
    defaults = OPTIMIZER_DEFAULTS[kind]
    given = {k: getattr(args, k) for k in ("lr", "momentum", "dampening", "nesterov", "beta1", "beta2", "eps", "weight_decay")}
    for k, v in given.items():
        if v is not None and k not in defaults:
            die("--%s does not apply to --optimizer %s" % (k.replace("_", "-"), kind))
    h = {k: (given[k] if given[k] is not None else d) for k, d in defaults.items()}
    if not (h["lr"] > 0 and math.isfinite(h["lr"])):
        die("--lr must be a positive number, got %r" % h["lr"])
    if h["weight_decay"] < 0:
        die("--weight-decay must be >= 0, got %r" % h["weight_decay"])
    if kind == "sgd":
        if not 0 <= h["momentum"] < 1 or not 0 <= h["dampening"] <= 1:
            die("--momentum must be in [0, 1) and --dampening in [0, 1]")
        if h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0):
            die("--nesterov needs --momentum > 0 and --dampening 0")
        return {"kind": kind, "lr": h["lr"], "momentum": h["momentum"], "dampening": h["dampening"],
                "nesterov": bool(h["nesterov"]), "weightDecay": h["weight_decay"]}
    if not (0 <= h["beta1"] < 1 and 0 <= h["beta2"] < 1 and h["eps"] > 0):
        die("--beta1 and --beta2 must be in [0, 1) and --eps > 0")
    return {"kind": kind, "lr": h["lr"], "betas": [h["beta1"], h["beta2"]], "eps": h["eps"], "weightDecay": h["weight_decay"]}


def make_optimizer(params, cfg, impl="single", capturable=False):
    """torch.optim.{SGD,Adam,AdamW} for cfg. impl: single = foreach=False (the single-tensor code
    path, the reference), foreach = foreach=True, fused = fused=True, auto = torch's default.
    capturable: Adam/AdamW's CUDA-graph-safe variant (step count on the device)."""
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[cfg["kind"]]
    accepted = inspect.signature(cls.__init__).parameters
    if cfg["kind"] == "sgd":
        kw = dict(lr=cfg["lr"], momentum=cfg["momentum"], dampening=cfg["dampening"],
                  nesterov=cfg["nesterov"], weight_decay=cfg["weightDecay"])
    else:
        kw = dict(lr=cfg["lr"], betas=tuple(cfg["betas"]), eps=cfg["eps"], weight_decay=cfg["weightDecay"])
    if impl in ("single", "foreach") and "foreach" in accepted:
        kw["foreach"] = impl == "foreach"
    elif impl == "fused":
        if "fused" not in accepted:
            die("torch %s has no fused %s" % (torch.__version__, cls.__name__))
        kw["fused"] = True
    if capturable and "capturable" in accepted:
        kw["capturable"] = True
    return cls(params, **kw)


# --------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------

class Schedule:
    """The closed forms of scripts/torch_reference.py's docstring (what the engine implements)."""

    def __init__(self, kind, base_lr, step_size=1, gamma=0.1, t_max=1, eta_min=0.0, warmup_steps=0):
        self.kind, self.base_lr = kind, base_lr
        self.step_size, self.gamma, self.t_max, self.eta_min = step_size, gamma, t_max, eta_min
        self.warmup_steps = warmup_steps

    @classmethod
    def from_args(cls, args, base_lr, epochs):
        if args.lr_step_size < 1 or args.lr_gamma <= 0 or args.warmup_steps < 0:
            die("--lr-step-size must be >= 1, --lr-gamma > 0 and --warmup-steps >= 0")
        t_max = args.lr_t_max if args.lr_t_max is not None else epochs
        if args.lr_schedule == "cosine" and t_max < 1:
            die("--lr-t-max must be >= 1")
        if args.lr_eta_min < 0:
            die("--lr-eta-min must be >= 0")
        return cls(args.lr_schedule, base_lr, args.lr_step_size, args.lr_gamma, t_max, args.lr_eta_min, args.warmup_steps)

    def epoch_lr(self, e):
        if self.kind == "step":
            return self.base_lr * self.gamma ** (e // self.step_size)
        if self.kind == "cosine":
            return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * e / self.t_max)) / 2
        return self.base_lr

    def warm_factor(self, s):
        return (s + 1) / self.warmup_steps if s < self.warmup_steps else 1.0

    def lr(self, s, e):
        return self.epoch_lr(e) * self.warm_factor(s)

    def describe(self):
        d = {"kind": self.kind}
        if self.kind == "step":
            d.update(stepSize=self.step_size, gamma=self.gamma)
        elif self.kind == "cosine":
            d.update(tMax=self.t_max, etaMin=self.eta_min)
        d["warmupSteps"] = self.warmup_steps
        return d


def _close(a, b, scale):
    return abs(a - b) <= 1e-12 * abs(scale) + 1e-300


class ScheduleDriver:
    """Drives torch's own scheduler classes and checks them against Schedule's closed forms.
    One schedule alone: the torch scheduler is attached to the real optimizer. Warm-up with an epoch
    schedule: each runs on a shadow optimizer (torch's chainable schedulers do not compose so for
    cosine), the real param group's lr is set to the product, and each factor is asserted alone."""

    def __init__(self, optimizer, sched):
        self.optimizer, self.sched = optimizer, sched
        self.has_epoch = sched.kind != "constant"
        self.has_warm = sched.warmup_steps > 1  # W = 1: factor (0+1)/1 = 1, nothing to do
        self.epoch_opt = self.warm_opt = None
        self.epoch_sched = self.warm_sched = None
        if not (self.has_epoch or self.has_warm):
            return
        shadow = self.has_epoch and self.has_warm
        if self.has_epoch:
            self.epoch_opt = self._shadow(sched.base_lr) if shadow else optimizer
            if sched.kind == "step":
                self.epoch_sched = torch.optim.lr_scheduler.StepLR(self.epoch_opt, step_size=sched.step_size, gamma=sched.gamma)
            else:
                self.epoch_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.epoch_opt, T_max=sched.t_max, eta_min=sched.eta_min)
        if self.has_warm:
            self.warm_opt = self._shadow(1.0) if shadow else optimizer
            w = sched.warmup_steps
            self.warm_sched = torch.optim.lr_scheduler.LinearLR(self.warm_opt, start_factor=1.0 / w, end_factor=1.0, total_iters=w - 1)
        self.shadow = shadow

    @staticmethod
    def _shadow(lr):
        return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)

    def lr_before_step(self, s, e):
        """The lr step s (in epoch e) uses; sets it where torch cannot, asserts it everywhere."""
        group = self.optimizer.param_groups[0]
        if not (self.has_epoch or self.has_warm):
            return group["lr"]
        want_epoch = self.sched.epoch_lr(e)
        want_warm = self.sched.warm_factor(s)
        if self.shadow:
            got_epoch = self.epoch_opt.param_groups[0]["lr"]
            got_warm = self.warm_opt.param_groups[0]["lr"]
            assert _close(got_epoch, want_epoch, self.sched.base_lr), (s, e, got_epoch, want_epoch)
            assert _close(got_warm, want_warm, 1.0), (s, e, got_warm, want_warm)
            for g in self.optimizer.param_groups:
                g["lr"] = got_epoch * got_warm
        want = want_epoch * want_warm
        assert _close(group["lr"], want, self.sched.base_lr), (s, e, group["lr"], want)
        return group["lr"]

    def after_batch(self):
        if self.warm_sched is not None:
            if self.shadow:
                self.warm_opt.step()  # no gradients: a no-op that keeps torch's step-order check quiet
            self.warm_sched.step()

    def after_epoch(self):
        if self.epoch_sched is not None:
            if self.shadow:
                self.epoch_opt.step()
            self.epoch_sched.step()
