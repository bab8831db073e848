"""Every Cypher statement kgrag sends to Neo4j, in one place for review.

Values always travel as parameters. Relationship types cannot be parameters in Cypher, so
the per-type statements are generated from the closed ``EdgeType`` enum below, never from
data.
"""

from __future__ import annotations

from kgrag.graph.schema import EdgeType

CONSTRAINTS = (
    "CREATE CONSTRAINT kg_node_id IF NOT EXISTS FOR (n:KgNode) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT kg_meta_key IF NOT EXISTS FOR (m:KgMeta) REQUIRE m.key IS UNIQUE",
    "CREATE INDEX kg_node_tier IF NOT EXISTS FOR (n:KgNode) ON (n.tier)",
)

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

# props: each prop is its own property "p:<key>" holding JSON; ``+=`` merges key by key
# (a null removes). Read back as [key, json] pairs.
_PROPS = "[k IN keys(%s) WHERE k STARTS WITH 'p:' | [substring(k, 2), %s[k]]]"
NODE_PROPS = _PROPS % ("n", "n")
EDGE_PROPS = _PROPS % ("r", "r")

# one row per (edge, claim); a claim replaces the edge's claim with the same key. A claim
# key is the JSON array [source, reference, start, end], compared whole, never split.
_UPSERT_EDGE = """
UNWIND $rows AS row
MATCH (a:KgNode {id: row.src}), (b:KgNode {id: row.dst})
MERGE (a)-[r:%s]->(b)
WITH r, row, coalesce(r.claim_keys, []) AS keys
WITH r, row, keys, [i IN range(0, size(keys) - 1) WHERE keys[i] <> row.claim_key] AS keep
SET r += row.props,
    r.claims = [i IN keep | r.claims[i]] + row.claim,
    r.claim_sources = [i IN keep | r.claim_sources[i]] + row.claim_source,
    r.claim_refs = [i IN keep | r.claim_refs[i]] + row.claim_ref,
    r.claim_keys = [i IN keep | keys[i]] + row.claim_key
"""
UPSERT_EDGES = {t: _UPSERT_EDGE % t.value for t in EdgeType}

# claims are kept in parallel lists on the relationship (claims, claim_keys,
# claim_sources, claim_refs). Drops the claims matched by %(drop)s on the relationships
# matched by %(edges)s, and relationships left without a claim.
_DROP_CLAIMS = """
MATCH ()-[r]->() WHERE %(edges)s
WITH r, [i IN range(0, size(r.claim_keys) - 1) WHERE NOT (%(drop)s)] AS keep
WHERE size(keep) < size(r.claim_keys)
SET r.claims = [i IN keep | r.claims[i]],
    r.claim_keys = [i IN keep | r.claim_keys[i]],
    r.claim_sources = [i IN keep | r.claim_sources[i]],
    r.claim_refs = [i IN keep | r.claim_refs[i]]
WITH r, size(keep) = 0 AS empty
WITH r, empty, count(*) AS touched
CALL (r, empty) { WITH r, empty WHERE empty DELETE r }
RETURN sum(touched) AS claims, sum(CASE WHEN empty THEN 1 ELSE 0 END) AS edges
"""
DELETE_SOURCE_CLAIMS = _DROP_CLAIMS % {
    "edges": "$source IN r.claim_sources",
    "drop": "r.claim_sources[i] = $source",
}
DELETE_REFERENCED_CLAIMS = _DROP_CLAIMS % {
    "edges": "any(s IN r.claim_sources WHERE s IN $sources)",
    "drop": "r.claim_refs[i] IN $refs",
}

DOCUMENT_PARTS = """
UNWIND $ids AS id
MATCH (d:KgNode {id: id})
OPTIONAL MATCH (c:KgNode)-[:IN_DOCUMENT]->(d)
RETURN d.id AS id, d.sources AS sources, collect(c.id) AS chunks
"""

DELETE_NODES = """
UNWIND $ids AS id
MATCH (n:KgNode {id: id})
DETACH DELETE n
RETURN count(*) AS nodes
"""

DELETE_SOURCE_NODES = """
MATCH (n:KgNode) WHERE $source IN n.sources
SET n.sources = [s IN n.sources WHERE s <> $source]
WITH n WHERE size(n.sources) = 0
DETACH DELETE n
RETURN count(*) AS nodes
"""

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

GET_EDGES = f"""
UNWIND $keys AS key
MATCH (a:KgNode {{id: key[0]}})-[r]->(b:KgNode {{id: key[2]}})
WHERE type(r) = key[1]
RETURN a.id AS src, type(r) AS type, b.id AS dst, {EDGE_PROPS} AS props, r.claims AS claims
"""

ALL_NODES = f"""
MATCH (n:KgNode) WHERE $label IS NULL OR n.label = $label
RETURN n.id AS id, n.label AS label, n.name AS name, n.tier AS tier, n.kind AS kind,
       n.codes AS codes, {NODE_PROPS} AS props, n.sources AS sources
"""

ALL_EDGES = f"""
MATCH (a:KgNode)-[r]->(b:KgNode) WHERE $types IS NULL OR type(r) IN $types
RETURN a.id AS src, type(r) AS type, b.id AS dst, {EDGE_PROPS} AS props, r.claims AS claims
"""

COUNT_NODES = "MATCH (n:KgNode) RETURN n.label AS key, count(*) AS n"
COUNT_EDGES = "MATCH (:KgNode)-[r]->(:KgNode) RETURN type(r) AS key, count(*) AS n"
COUNT_TIERS = "MATCH (n:KgNode) WHERE n.tier IS NOT NULL RETURN n.tier AS key, count(*) AS n"
COUNT_SOURCES = "MATCH (n:KgNode) UNWIND n.sources AS s RETURN count(DISTINCT s) AS n"

SET_META = "MERGE (m:KgMeta {key: $key}) SET m.value = $value"
GET_META = "MATCH (m:KgMeta {key: $key}) RETURN m.value AS value"

CLEAR = "MATCH (n) WHERE n:KgNode OR n:KgMeta CALL (n) { DETACH DELETE n } IN TRANSACTIONS"

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
