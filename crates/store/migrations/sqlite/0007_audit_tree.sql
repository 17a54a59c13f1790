-- The audit log's Merkle tree (RFC 9162): the hash of every perfect
-- subtree, node (level, idx) covering leaves idx*2^level .. (idx+1)*2^level
-- (leaf i is the event with seq i + 1). Appended in the same transaction as
-- the events; kept when old events are pruned, so proofs stay possible.
-- audit_head.tree_size is the number of leaves in it.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
ALTER TABLE audit_head ADD COLUMN tree_size INTEGER NOT NULL DEFAULT 0;
