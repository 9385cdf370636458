"""seqbench's own features, registered through the same hooks as any plugin's."""
