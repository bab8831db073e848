"""The diagnostic graph: the ``GraphStore`` protocol, its SQLite and Neo4j stores, the builders.

A regular package (not a namespace one) so that tools reading the source, such as the API
reference's docstring reader, find its modules; it imports nothing, so ``import kgrag``
stays light.
"""
