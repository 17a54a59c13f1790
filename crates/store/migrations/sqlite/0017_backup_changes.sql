-- Change tracking for incremental backups (docs/design/0004-backups.md,
-- "Buckets"): every insert, update and delete of a row of the large tables
-- marks its bucket (rowid >> 5, 32 rowids) with the current generation. A
-- backup starts a new generation, and a later one reads again only the
-- buckets marked since the generation of the backup it builds on; every
-- other bucket's chunk is named again unread. Rowids of these tables never
-- change (nothing in Turva runs VACUUM; a migration that rebuilds one of
-- them must start a new lineage). The lineage is new in every database
-- (a restored one included: neither table is in backups), so a backup of
-- another database's lineage is never built on.
CREATE TABLE backup_lineage (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    lineage TEXT NOT NULL,
    generation INTEGER NOT NULL,
    forgotten_below INTEGER NOT NULL DEFAULT 0
);
INSERT INTO backup_lineage (id, lineage, generation) VALUES (1, lower(hex(randomblob(16))), 1);
CREATE TABLE backup_changes (
    tbl TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (tbl, bucket)
) WITHOUT ROWID;
CREATE TRIGGER backup_changes_documents_insert AFTER INSERT ON documents BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('documents', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_documents_update AFTER UPDATE ON documents BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('documents', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_documents_delete AFTER DELETE ON documents BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('documents', OLD.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_document_versions_insert AFTER INSERT ON document_versions BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('document_versions', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_document_versions_update AFTER UPDATE ON document_versions BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('document_versions', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_document_versions_delete AFTER DELETE ON document_versions BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('document_versions', OLD.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_folder_paths_insert AFTER INSERT ON folder_paths BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('folder_paths', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_folder_paths_update AFTER UPDATE ON folder_paths BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('folder_paths', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_folder_paths_delete AFTER DELETE ON folder_paths BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('folder_paths', OLD.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_files_insert AFTER INSERT ON files BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('files', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_files_update AFTER UPDATE ON files BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('files', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_files_delete AFTER DELETE ON files BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('files', OLD.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_search_entries_insert AFTER INSERT ON search_entries BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('search_entries', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_search_entries_update AFTER UPDATE ON search_entries BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('search_entries', NEW.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
CREATE TRIGGER backup_changes_search_entries_delete AFTER DELETE ON search_entries BEGIN
    INSERT OR REPLACE INTO backup_changes (tbl, bucket, generation)
    VALUES ('search_entries', OLD.rowid >> 5, (SELECT generation FROM backup_lineage));
END;
