-- (PostgreSQL twin of sqlite/0009_audit_reading.sql)
CREATE TABLE audit_links (
    company_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (company_id, seq)
);
CREATE INDEX audit_links_seq ON audit_links (seq);
INSERT INTO audit_links (company_id, seq)
SELECT m.company_id, e.seq
FROM audit_events e
JOIN data_keys k ON k.id = e.personal_key_id AND k.kind = 'user'
JOIN memberships m ON m.user_id = k.owner_id AND m.status = 'active'
WHERE e.company_id IS NULL AND e.action LIKE 'auth.%';
ALTER TABLE audit_head ADD COLUMN pruned_through BIGINT NOT NULL DEFAULT 0;
