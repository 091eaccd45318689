"""The PyTorch reference's modules; scripts/torch_reference.py is the entry point and its
docstring the documentation. Plain modules on sys.path (nothing to install): that script puts
scripts/ first on sys.path, so it runs from any working directory."""
