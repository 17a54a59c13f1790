-- Reading the audit log. A sign-in event (auth.*) belongs to no company but
-- is shown in the audit of every company its user was an active member of
-- when it happened: audit_links records those companies when the event is
-- written (derived data beside the leaf, like ip_index; not verified).
-- Existing events are linked through today's memberships.
CREATE TABLE audit_links (
    company_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (company_id, seq)
) WITHOUT ROWID;
INSERT INTO audit_links (company_id, seq)
SELECT m.company_id, e.seq
FROM audit_events e
JOIN data_keys k ON k.id = e.personal_key_id AND k.kind = 'user'
JOIN memberships m ON m.user_id = k.owner_id AND m.status = 'active'
WHERE e.company_id IS NULL AND e.action LIKE 'auth.%';
-- Retention: events up to pruned_through have been deleted; the tree's
-- nodes are kept, so every checkpoint and later proof still verifies.
ALTER TABLE audit_head ADD COLUMN pruned_through INTEGER NOT NULL DEFAULT 0;
