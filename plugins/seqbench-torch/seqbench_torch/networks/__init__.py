"""The architectures: torch modules built from a task's signature.

Every network takes ``(signature, task, **sizes)``; ``forward(inputs, targets)`` gives
training outputs (targets only for teacher forcing) and ``predict(inputs)`` the outputs
used for evaluation (greedy decoding for sequence outputs, never teacher forcing).
"""
