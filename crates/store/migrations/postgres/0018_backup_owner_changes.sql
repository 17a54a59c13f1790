-- SQLite only: change tracking by owner for incremental backups; on
-- PostgreSQL a backup reads every row of the snapshot.
SELECT 1;
