#!/usr/bin/env python3
"""Command line of the ISF formation simulator. `python run.py --help` lists the commands."""

import sys

from sim.cli import main

if __name__ == "__main__":
    sys.exit(main())
