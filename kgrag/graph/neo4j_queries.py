"""Every Cypher statement kgrag sends to Neo4j, in one place for review.

Values always travel as parameters. Relationship types cannot be parameters in Cypher, so
the per-type statements are generated from the closed ``EdgeType`` enum below, never from
data.
"""

from __future__ import annotations

from kgrag.graph.schema import EdgeType

#: claims kept on a relationship (``r.claims``, a read cache); an edge with more claims keeps
#: none there (``r.spilled``) and is read from its ``:KgClaim`` nodes. Every claim is a
#: ``:KgClaim`` node whatever the count (the claims table).
CLAIMS_ON_RELATIONSHIP = 32

CONSTRAINTS = (
    "CREATE CONSTRAINT kg_node_id IF NOT EXISTS FOR (n:KgNode) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT kg_meta_key IF NOT EXISTS FOR (m:KgMeta) REQUIRE m.key IS UNIQUE",
    "CREATE CONSTRAINT kg_claim_id IF NOT EXISTS FOR (c:KgClaim) REQUIRE c.id IS UNIQUE",
    "CREATE INDEX kg_node_tier IF NOT EXISTS FOR (n:KgNode) ON (n.tier)",
    "CREATE INDEX kg_claim_edge IF NOT EXISTS FOR (c:KgClaim) ON (c.src, c.type, c.dst)",
    "CREATE INDEX kg_claim_source IF NOT EXISTS FOR (c:KgClaim) ON (c.source)",
    "CREATE INDEX kg_claim_ref IF NOT EXISTS FOR (c:KgClaim) ON (c.ref)",
)
AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"

UPSERT_NODES = """
UNWIND $rows AS row
MERGE (n:KgNode {id: row.id})
SET n.label = row.label,
    n.name = CASE WHEN row.name <> '' THEN row.name ELSE coalesce(n.name, '') END,
    n.tier = coalesce(row.tier, n.tier),
    n.kind = coalesce(row.kind, n.kind),
    n.codes = CASE WHEN size(row.codes) > 0 THEN row.codes ELSE coalesce(n.codes, []) END,
    n += row.props,
    n.sources = [s IN coalesce(n.sources, []) WHERE NOT s IN row.sources] + row.sources
FOREACH (_ IN CASE WHEN row.label = 'Concept' THEN [1] ELSE [] END | SET n:Concept)
FOREACH (_ IN CASE WHEN row.label = 'Document' THEN [1] ELSE [] END | SET n:Document)
FOREACH (_ IN CASE WHEN row.label = 'Chunk' THEN [1] ELSE [] END | SET n:Chunk)
"""

# props: each prop is its own property "p.<key>" holding JSON; ``+=`` merges key by key
# (a null removes). Read back as [key, json] pairs.
_PROPS = "[k IN keys(%s) WHERE k STARTS WITH 'p.' | [substring(k, 2), %s[k]]]"
NODE_PROPS = _PROPS % ("n", "n")
EDGE_PROPS = _PROPS % ("r", "r")

# The claims of the edge (src, type, dst), at most CLAIMS_ON_RELATIONSHIP + 1 of them (an
# index seek on kg_claim_edge: bounded work whatever the edge's size).
_HELD = """
    CALL (src, dst) {
        MATCH (k:KgClaim {src: src, type: '%(type)s', dst: dst})
        WITH k LIMIT %(limit)d
        RETURN collect(k.claim) AS held
    }"""

# Refresh the claims cached on relationship r (of type %(type)s between src and dst) from
# the claims table: all of them when they are at most CLAIMS_ON_RELATIONSHIP, else none
# and r.spilled.
_REFRESH = (
    _HELD
    + """
    SET r.claims = CASE WHEN size(held) <= %(cap)d THEN held ELSE null END,
        r.spilled = size(held) > %(cap)d"""
)

# One row per edge with its claims (ids: the JSON array [src, type, dst, source,
# reference, start, end], compared whole, never split) and ``cached``/``spilled``: the
# claims a new relationship keeps (null past the cap). A claim replaces the edge's claim
# with the same id (MERGE on the kg_claim_id constraint). A relationship that existed and
# has not spilled gets its cache refreshed from the table with bounded work; a new one
# takes the row's: k claims cost O(k) whether they come as one row or k rows.
_UPSERT_EDGE = (
    """
UNWIND $rows AS row
MATCH (a:KgNode {id: row.src}), (b:KgNode {id: row.dst})
MERGE (a)-[r:%(type)s]->(b)
  ON CREATE SET r.claims = row.cached, r.spilled = row.spilled
  ON MATCH SET r.kg_stale = CASE WHEN r.spilled THEN null ELSE true END
SET r += row.props
WITH r, row
CALL (row) {
    UNWIND row.claims AS cl
    MERGE (c:KgClaim {id: cl.id})
    SET c.src = row.src, c.type = '%(type)s', c.dst = row.dst, c.source = cl.source,
        c.ref = cl.ref, c.claim = cl.claim
}
WITH r, row
CALL (r, row) {
    WITH r, row WHERE r.kg_stale IS NOT NULL
    REMOVE r.kg_stale
    WITH r, row.src AS src, row.dst AS dst
"""
    + _REFRESH
    + """
}
"""
)


def _params(typ: EdgeType) -> dict[str, object]:
    return {"type": typ.value, "cap": CLAIMS_ON_RELATIONSHIP, "limit": CLAIMS_ON_RELATIONSHIP + 1}


UPSERT_EDGES = {t: _UPSERT_EDGE % _params(t) for t in EdgeType}

# Drop the claims matched by %(match)s, then refresh each touched edge's cache and delete
# the edges left without a claim. Returns claims and edges removed.
_DROP_CLAIMS = """
%(match)s
WITH c.src AS src, c.type AS type, c.dst AS dst, collect(c) AS gone
FOREACH (c IN gone | DELETE c)
WITH src, type, dst, size(gone) AS n
MATCH (a:KgNode {id: src})-[r]->(b:KgNode {id: dst}) WHERE type(r) = type
CALL (src, type, dst) {
    MATCH (k:KgClaim {src: src, type: type, dst: dst})
    WITH k LIMIT %(limit)d
    RETURN collect(k.claim) AS held
}
SET r.claims = CASE WHEN size(held) <= %(cap)d THEN held ELSE null END,
    r.spilled = size(held) > %(cap)d
WITH r, n, size(held) = 0 AS empty
CALL (r, empty) { WITH r, empty WHERE empty DELETE r }
RETURN sum(n) AS claims, sum(CASE WHEN empty THEN 1 ELSE 0 END) AS edges
"""
_CAPS = {"cap": CLAIMS_ON_RELATIONSHIP, "limit": CLAIMS_ON_RELATIONSHIP + 1}
DELETE_SOURCE_CLAIMS = _DROP_CLAIMS % {"match": "MATCH (c:KgClaim {source: $source})", **_CAPS}
DELETE_REFERENCED_CLAIMS = _DROP_CLAIMS % {
    "match": "MATCH (c:KgClaim) WHERE c.ref IN $refs AND c.source IN $sources",
    **_CAPS,
}

# the claims of the relationships at nodes about to be removed (DETACH DELETE takes the
# relationships; their claims go first)
_DROP_EDGE_CLAIMS = """
CALL (n) {
    MATCH (n)-[r]-(:KgNode)
    WITH startNode(r).id AS src, type(r) AS type, endNode(r).id AS dst
    MATCH (k:KgClaim {src: src, type: type, dst: dst})
    DELETE k
}"""

DOCUMENT_PARTS = """
UNWIND $ids AS id
MATCH (d:KgNode {id: id})
OPTIONAL MATCH (c:KgNode)-[:IN_DOCUMENT]->(d)
RETURN d.id AS id, d.sources AS sources, collect(c.id) AS chunks
"""

DELETE_NODES = (
    """
UNWIND $ids AS id
MATCH (n:KgNode {id: id})"""
    + _DROP_EDGE_CLAIMS
    + """
DETACH DELETE n
RETURN count(*) AS nodes
"""
)

DELETE_SOURCE_NODES = (
    """
MATCH (n:KgNode) WHERE $source IN n.sources
SET n.sources = [s IN n.sources WHERE s <> $source]
WITH n WHERE size(n.sources) = 0"""
    + _DROP_EDGE_CLAIMS
    + """
DETACH DELETE n
RETURN count(*) AS nodes
"""
)

GET_NODES = f"""
UNWIND $ids AS id
MATCH (n:KgNode {{id: id}})
RETURN n.id AS id, n.label AS label, n.name AS name, n.tier AS tier, n.kind AS kind,
       n.codes AS codes, {NODE_PROPS} AS props, n.sources AS sources
"""

OUT_EDGES = """
UNWIND $ids AS id
MATCH (a:KgNode {id: id})-[r]->(b:KgNode)
WHERE $types IS NULL OR type(r) IN $types
RETURN a.id AS src, type(r) AS type, b.id AS dst
"""

IN_EDGES = """
UNWIND $ids AS id
MATCH (a:KgNode)-[r]->(b:KgNode {id: id})
WHERE $types IS NULL OR type(r) IN $types
RETURN a.id AS src, type(r) AS type, b.id AS dst
"""

# an edge's claims: the cache on the relationship, or the claims table when it spilled
EDGE_CLAIMS = """CASE WHEN r.spilled THEN COLLECT {
    MATCH (k:KgClaim {src: a.id, type: type(r), dst: b.id}) RETURN k.claim
} ELSE r.claims END"""

GET_EDGES = f"""
UNWIND $keys AS key
MATCH (a:KgNode {{id: key[0]}})-[r]->(b:KgNode {{id: key[2]}})
WHERE type(r) = key[1]
RETURN a.id AS src, type(r) AS type, b.id AS dst, {EDGE_PROPS} AS props, {EDGE_CLAIMS} AS claims
"""

ALL_NODES = f"""
MATCH (n:KgNode) WHERE $label IS NULL OR n.label = $label
RETURN n.id AS id, n.label AS label, n.name AS name, n.tier AS tier, n.kind AS kind,
       n.codes AS codes, {NODE_PROPS} AS props, n.sources AS sources
"""

ALL_EDGES = f"""
MATCH (a:KgNode)-[r]->(b:KgNode) WHERE $types IS NULL OR type(r) IN $types
RETURN a.id AS src, type(r) AS type, b.id AS dst, {EDGE_PROPS} AS props, {EDGE_CLAIMS} AS claims
"""

COUNT_NODES = "MATCH (n:KgNode) RETURN n.label AS key, count(*) AS n"
COUNT_EDGES = "MATCH (:KgNode)-[r]->(:KgNode) RETURN type(r) AS key, count(*) AS n"
COUNT_TIERS = "MATCH (n:KgNode) WHERE n.tier IS NOT NULL RETURN n.tier AS key, count(*) AS n"
COUNT_SOURCES = "MATCH (n:KgNode) UNWIND n.sources AS s RETURN count(DISTINCT s) AS n"

SET_META = "MERGE (m:KgMeta {key: $key}) SET m.value = $value"
GET_META = "MATCH (m:KgMeta {key: $key}) RETURN m.value AS value"

CLEAR = "MATCH (n) WHERE n:KgNode OR n:KgMeta OR n:KgClaim CALL (n) { DETACH DELETE n } IN TRANSACTIONS"

# -- the chunk vector index (Neo4j's own HNSW, cosine) -------------------------------------
VECTOR_INDEX = "kg_chunk_embedding"
# the dimension is an int from the encoder, formatted with %d; never text from data
CREATE_VECTOR_INDEX = (
    f"CREATE VECTOR INDEX {VECTOR_INDEX} IF NOT EXISTS FOR (n:Chunk) ON (n.embedding) "
    "OPTIONS {indexConfig: {`vector.dimensions`: %d, `vector.similarity_function`: 'cosine', "
    "`vector.quantization.enabled`: false}}"
)
DROP_VECTOR_INDEX = f"DROP INDEX {VECTOR_INDEX} IF EXISTS"
VECTOR_INDEX_INFO = """
SHOW VECTOR INDEXES YIELD name, state, options WHERE name = $name
RETURN state, options.indexConfig['vector.dimensions'] AS dim
"""
AWAIT_VECTOR_INDEX = "CALL db.awaitIndex($name, $seconds)"
SET_EMBEDDINGS = """
UNWIND $rows AS row
MATCH (n:KgNode {id: row.id})
CALL db.create.setNodeVectorProperty(n, 'embedding', row.vector)
"""
QUERY_VECTORS = """
CALL db.index.vector.queryNodes($name, $k, $vector) YIELD node, score
RETURN node.id AS id, score
"""
