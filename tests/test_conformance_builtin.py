"""The shipped conformance checks pass for every installed task and model: seqbench's
own, seqbench-tasks', seqbench-torch's and the tutorial's seqbench-example.

These are the very checks ``pytest --seqbench-conformance`` runs, imported from the
shipped module and parametrised by seqbench's pytest plugin over every installed
plugin; run in-process here so torch is imported once for the whole session.
"""

from seqbench.testing.conformance.test_seqbench_contract import *  # noqa: F401,F403
