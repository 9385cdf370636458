"""``python -m seqbench``: the same command as the ``seqbench`` console script."""

from seqbench.cli import main

if __name__ == "__main__":
    main(prog_name="seqbench")
