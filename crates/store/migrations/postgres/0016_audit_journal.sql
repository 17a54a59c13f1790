-- SQLite only (the events of reads are journalled in files there); on
-- PostgreSQL the writer inserts them into the log directly.
SELECT 1;
