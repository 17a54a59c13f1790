-- (PostgreSQL twin of sqlite/0004_search_prefixes.sql)
-- Nothing to do: the GIN index over tsvector already answers prefix
-- queries (`'word':*`).
SELECT 1;
