-- (PostgreSQL twin of sqlite/0006_search_scope.sql)
-- Nothing to do: search_entries.company_id is a plain column here, and
-- candidates are filtered by it before they are ranked.
SELECT 1;
