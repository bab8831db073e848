"""The recipe runner.

``kgrag build`` reads an ingest recipe and writes every stage (concept nodes, hierarchy,
annotations, corpora, retrieval artifacts) into a store.

It sits above ``retrieval`` in the layer order (it makes the retrieval artifacts) and
below ``api``/``cli``/``serve``. The package is not called ``build`` because
``kgrag.build`` is the public function that wraps it.
"""
