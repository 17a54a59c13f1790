-- The events of reads are appended to the audit journal (files in
-- DIR/audit-journal/, see audit_journal.rs) instead of the staging file;
-- per journal segment, the offset up to which its events are moved into
-- the log, updated in the move's own transaction.
CREATE TABLE audit.audit_journal_marks (
    segment TEXT PRIMARY KEY,
    through INTEGER NOT NULL
) WITHOUT ROWID;
