"""The architectures: Keras networks built from a task's signature, twins of
seqbench-torch's.

Every network takes ``(signature, task, **sizes)``; ``call(inputs, targets, training)``
gives training outputs (targets only for teacher forcing) and ``infer(inputs)`` the
outputs used for evaluation (greedy decoding for sequence outputs, never teacher
forcing). Importing this package imports TensorFlow quietly.
"""

from seqbench_tensorflow.runtime import import_tensorflow

import_tensorflow()
