"""The conformance checks: ``pytest --seqbench-conformance`` collects this directory."""
