"""Constants shared by the reference's modules, and the error exit."""

import sys

MEAN = 0.1307
STD = 0.3081
PYTHON = "/usr/bin/python3"
SCRIPT = "scripts/torch_reference.py"

if sys.byteorder != "little":
    raise SystemExit("safetensors and IDX handling here assume a little-endian host")


def die(msg):
    """One `error:` line and exit 2, as the engine's CLI does."""
    print("error: %s" % msg, file=sys.stderr)
    sys.exit(2)
