"""seqbench's built-in tasks, registered through the public ``register_tasks`` hook."""

from seqbench import hookimpl

from seqbench_tasks.adding import Adding
from seqbench_tasks.associative_recall import AssociativeRecall
from seqbench_tasks.chomsky import ModularArithmetic, Parity, ReverseString
from seqbench_tasks.chomsky_binary import BinaryAddition
from seqbench_tasks.chomsky_regular import CycleNavigation, EvenPairs
from seqbench_tasks.chomsky_stack_and_tape import DuplicateString, StackManipulation
from seqbench_tasks.chomsky_strings import BucketSort, MissingDuplicateString, OddsFirst
from seqbench_tasks.copy_memory import CopyMemory
from seqbench_tasks.flip_flop import FlipFlop
from seqbench_tasks.gp_pairs import GPPairs
from seqbench_tasks.induction_heads import InductionHeads
from seqbench_tasks.polynomial import Polynomial
from seqbench_tasks.selective_copy import SelectiveCopy
from seqbench_tasks.subsequence import Subsequence
from seqbench_tasks.word_problem import WordProblem

# The synthetic token-task library (copying, recall, induction, Chomsky hierarchy, state tracking).
SYNTHETIC = (
    CopyMemory,
    SelectiveCopy,
    AssociativeRecall,
    InductionHeads,
    Parity,
    ModularArithmetic,
    EvenPairs,
    CycleNavigation,
    ReverseString,
    StackManipulation,
    DuplicateString,
    OddsFirst,
    BucketSort,
    MissingDuplicateString,
    BinaryAddition,
    WordProblem,
    FlipFlop,
)

__all__ = ["Adding", "GPPairs", "Polynomial", "Subsequence", "SYNTHETIC"] + [cls.__name__ for cls in SYNTHETIC]


@hookimpl
def register_tasks(register) -> None:
    register(Adding)
    register(GPPairs)
    register(Polynomial)
    register(Subsequence)
    for task in SYNTHETIC:
        register(task)
