-- Prefix indexes for search: the last word of a query matches as a prefix
-- (as typed), and without these FTS5 merges the posting lists of every
-- term with that prefix on each query. The table is rebuilt with the same
-- rows and rowids.
CREATE VIRTUAL TABLE search_text_new USING fts5 (
    title, body, tokenize = 'unicode61 remove_diacritics 2', prefix = '3 4 5'
);
INSERT INTO search_text_new (rowid, title, body) SELECT rowid, title, body FROM search_text;
DROP TABLE search_text;
ALTER TABLE search_text_new RENAME TO search_text;
