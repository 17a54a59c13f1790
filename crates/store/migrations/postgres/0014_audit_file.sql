-- SQLite only (the audit log moves to a file of its own there); nothing
-- changes on PostgreSQL, where the events of a change commit with it.
SELECT 1;
