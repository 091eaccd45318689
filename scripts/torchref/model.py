"""The tutorial MLP, its seeded init or --init weights, test accuracy, and the DataLoader shuffle stream."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import die
from .safetensors import load_safetensors

# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class Net(nn.Module):
    """l1..lN = nn.Linear(sizes[i], sizes[i+1]), ReLU after all but the last.
    With the default sizes this is exactly the tutorial's l1..l5 model
    (layers are created in order l1, l2, ... so the default init consumes
    the RNG in the same order)."""

    def __init__(self, sizes):
        super().__init__()
        self.n = len(sizes) - 1
        for i in range(self.n):
            setattr(self, "l%d" % (i + 1), nn.Linear(sizes[i], sizes[i + 1]))

    def forward(self, x):
        x = x.view(-1, self.l1.in_features)
        for i in range(1, self.n):
            x = F.relu(getattr(self, "l%d" % i)(x))
        return getattr(self, "l%d" % self.n)(x)


def state_tensors(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def build_model(args):
    """Seeded default init (torch.manual_seed(seed), layers in order), or --init's weights."""
    sizes = [int(s) for s in args.layers.split(",")]
    if sizes[0] != 784:
        die("first layer size must be 784")
    torch.manual_seed(args.seed)
    model = Net(sizes)
    if args.init:
        tensors, _ = load_safetensors(args.init)
        sd = model.state_dict()
        missing = set(sd) - set(tensors)
        extra = set(tensors) - set(sd)
        if missing or extra:
            die("init mismatch: missing %s, unexpected %s" % (sorted(missing), sorted(extra)))
        for k in sd:
            if tuple(tensors[k].shape) != tuple(sd[k].shape):
                die("%s: shape %s != %s" % (k, tuple(tensors[k].shape), tuple(sd[k].shape)))
        model.load_state_dict(tensors)
    return model


def evaluate(model, x, y, chunk=1000):
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            pred = model(x[i:i + chunk]).argmax(dim=1)
            correct += (pred == y[i:i + chunk]).sum()
    model.train()
    return int(correct.item()), x.shape[0]


def epoch_permutation(n):
    """Exactly what one `for batch in DataLoader(ds, shuffle=True)` epoch draws from the global RNG:
    _BaseDataLoaderIter.__init__ draws _base_seed, then RandomSampler.__iter__ draws a seed for a
    fresh Generator and takes randperm(n)."""
    torch.empty((), dtype=torch.int64).random_().item()
    s = int(torch.empty((), dtype=torch.int64).random_().item())
    g = torch.Generator()
    g.manual_seed(s)
    return torch.randperm(n, generator=g)
