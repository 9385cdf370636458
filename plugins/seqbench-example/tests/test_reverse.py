"""seqbench-example's own tests, built on the fixtures seqbench's pytest plugin provides."""

import numpy as np

from seqbench.data import SPLITS
from seqbench.testing import fit
from seqbench_example.reverse import split_of


def test_lookup_learns_to_reverse(seqbench_task, seqbench_model, seqbench_settings):
    task = seqbench_task("reverse", length=6)
    model = seqbench_model("numpy:lookup")
    fit(model, task, seqbench_settings, examples=512)
    test = task.generate(200, np.random.default_rng(1), split="test")
    assert task.score(model.predict(test.inputs), test.targets)["exact_match"] == 1.0


def test_every_sequence_belongs_to_one_split(seqbench_task):
    task = seqbench_task("reverse")
    for index, split in enumerate(SPLITS):
        examples = task.generate(300, np.random.default_rng(0), split=split)
        assert np.all(split_of(examples.inputs) == index)
