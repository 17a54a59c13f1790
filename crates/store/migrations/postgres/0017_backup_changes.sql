-- SQLite only: change tracking for incremental backups works on rowids;
-- on PostgreSQL a backup reads every row of the snapshot.
SELECT 1;
