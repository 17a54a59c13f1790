-- Search is windowed: the engine ranks the newest matches only. The window
-- must be the newest matches *of the caller's companies*, or a small
-- company's documents could lie beyond a window filled by a large
-- company's. So each entry carries its company as one token in a column of
-- its own (`scope`, 'c' and the company id's hex digits), which a query
-- names (`scope : "c…"`) and the words never match (they are limited to
-- `{title body}`). The table is rebuilt with the same rows and rowids.
CREATE VIRTUAL TABLE search_text_new USING fts5 (
    title, body, scope, tokenize = 'unicode61 remove_diacritics 2', prefix = '3 4 5'
);
INSERT INTO search_text_new (rowid, title, body, scope)
    SELECT t.rowid, t.title, t.body, 'c' || replace(e.company_id, '-', '')
    FROM search_text t JOIN search_entries e ON e.rowid = t.rowid;
DROP TABLE search_text;
ALTER TABLE search_text_new RENAME TO search_text;
