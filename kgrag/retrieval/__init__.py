"""Retrieval: the diagnostic model, its rankers, passage search and the evidence they return.

The facade is :class:`kgrag.retrieval.diagnose.Diagnoser`.
"""
