"""`python -m netc ...` (and `torchrun -m netc train ...`)."""

from netc.cli import main

main()
