-- A company's search entries by company: a backup reads them per company,
-- and a company's deletion removes them (without it, each was a scan of
-- every company's entries).
CREATE INDEX search_entries_company ON search_entries (company_id);
