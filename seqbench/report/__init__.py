"""``seqbench report``: what a results store holds, as a printed table or as files.

``runs`` is the table of runs (``--format``); ``selection`` and ``sets`` choose and load
the result sets (``--suite``, ``--compare``); ``summary`` and ``page`` make the summary
page; ``files`` writes ``--plot`` and ``--tensorboard`` (``tensorboard``); ``text`` is how
values and tables read as text; ``naming`` the names report and figures share. The
figures themselves are ``seqbench.plots``.

Nothing is imported here, so ``seqbench.plots`` can use ``naming`` and ``sets`` without
loading the rest.
"""
