"""Fact extractors: disease -> finding statements read from linked text.

:mod:`~kgrag.facts.guideline_facts` reads guideline and textbook prose ("X presents with
Y"), :mod:`~kgrag.facts.definition_facts` the Disease Ontology's definitions ("has
symptom Y"). Both are pure functions of a text and its linked mentions, so the build
(:mod:`kgrag.pipeline`) runs them per document or per shard, in any process.

The layer sits above ``linking`` (it reads :class:`~kgrag.types.Mention` and, for a title,
a :class:`~kgrag.linking.linker.ConceptLinker`) and below ``graph`` and ``pipeline``.
"""
