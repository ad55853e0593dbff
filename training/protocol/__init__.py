"""The evaluation protocol every model is judged by, whatever its kind.

The split (``splits``), the point-in-time examples replayed through the serving
feature code (``examples``; the JD.com attribute files: ``attributes``), the metrics
(``metrics``), intervals by user and seed and the paired comparisons (``bootstrap``),
the summary of a judged part (``evaluation``), and the report (``report``). ``served``
judges a written artifact by the same protocol (``intent evaluate``); ``stages`` times
each stage of a run.
"""
