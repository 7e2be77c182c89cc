"""Start vgsim: `python main.py` opens the window; `python main.py run ...` trains headless."""

import sys

from vgsim.cli import main

if __name__ == "__main__":
    sys.exit(main(exit_quickly=True))
