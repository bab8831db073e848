"""The build: ``kgrag build`` reads an ingest recipe and writes every stage into a store.

Recipes (:mod:`~kgrag.pipeline.recipe`), the build context (:mod:`~kgrag.pipeline.context`),
one module per source kind (:mod:`kgrag.pipeline.sources`), corpus shards, their Parquet
parts, the reduce and the load (:mod:`~kgrag.pipeline.shards`, :mod:`~kgrag.pipeline.parts`,
:mod:`~kgrag.pipeline.stage`, :mod:`~kgrag.pipeline.reduce`), the engines that run the shard
stage (:mod:`~kgrag.pipeline.engines`, :mod:`~kgrag.pipeline.ray_engine`), and the runner that
is only the loop (:mod:`~kgrag.pipeline.runner`). docs/scaling.md describes it.

It sits above ``retrieval`` in the layer order (it makes the retrieval artifacts) and
below ``api``/``cli``/``serve``. The package is not called ``build`` because
``kgrag.build`` is the public function that wraps it.
"""
