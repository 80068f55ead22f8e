"""One folder per paper, the same files in each: ``config`` (its experiment's schema),
``experiment`` (``run`` and its ``Result``), ``analysis`` (pure functions on its frames),
``claims`` (its claims judged; the scorecard's rows), ``figures`` (with its explorer) and
``tables`` (as the book shows them). Everything only that
paper uses lives there; the core (``lt_core``) knows no paper. A new paper is a new folder
plus one line in ``lt_core.experiments``."""
