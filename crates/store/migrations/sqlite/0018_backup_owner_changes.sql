-- Change tracking by owner (docs/design/0004-backups.md, "Owners"): every
-- insert, update and delete of a row a backup puts in a person's or a
-- company's part marks that owner with the current generation. A backup
-- names the previous backup's part of every owner not marked since that
-- backup's generation again, unread (same lineage, schema and key), and
-- reads only the marked ones. A row reached through its parent marks the
-- parent's company; when the parent is gone, the parent's own deletion
-- has marked it. Owners were not marked before this migration, so the
-- database starts a new lineage: the next backup reads everything.
CREATE TABLE backup_owner_changes (
    owner TEXT NOT NULL PRIMARY KEY,
    generation INTEGER NOT NULL
) WITHOUT ROWID;
UPDATE backup_lineage SET lineage = lower(hex(randomblob(16))), generation = generation + 1;
CREATE TRIGGER backup_changes_owner_users_insert AFTER INSERT ON users BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || NEW.id, generation FROM backup_lineage WHERE NEW.id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_users_update AFTER UPDATE ON users BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || NEW.id, generation FROM backup_lineage WHERE NEW.id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || OLD.id, generation FROM backup_lineage WHERE OLD.id IS NOT NEW.id;
END;
CREATE TRIGGER backup_changes_owner_users_delete AFTER DELETE ON users BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || OLD.id, generation FROM backup_lineage WHERE OLD.id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_mfa_factors_insert AFTER INSERT ON mfa_factors BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || NEW.user_id, generation FROM backup_lineage WHERE NEW.user_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_mfa_factors_update AFTER UPDATE ON mfa_factors BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || NEW.user_id, generation FROM backup_lineage WHERE NEW.user_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || OLD.user_id, generation FROM backup_lineage WHERE OLD.user_id IS NOT NEW.user_id;
END;
CREATE TRIGGER backup_changes_owner_mfa_factors_delete AFTER DELETE ON mfa_factors BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || OLD.user_id, generation FROM backup_lineage WHERE OLD.user_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_recovery_codes_insert AFTER INSERT ON recovery_codes BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || NEW.user_id, generation FROM backup_lineage WHERE NEW.user_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_recovery_codes_update AFTER UPDATE ON recovery_codes BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || NEW.user_id, generation FROM backup_lineage WHERE NEW.user_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || OLD.user_id, generation FROM backup_lineage WHERE OLD.user_id IS NOT NEW.user_id;
END;
CREATE TRIGGER backup_changes_owner_recovery_codes_delete AFTER DELETE ON recovery_codes BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'user:' || OLD.user_id, generation FROM backup_lineage WHERE OLD.user_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_companies_insert AFTER INSERT ON companies BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.id, generation FROM backup_lineage WHERE NEW.id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_companies_update AFTER UPDATE ON companies BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.id, generation FROM backup_lineage WHERE NEW.id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.id, generation FROM backup_lineage WHERE OLD.id IS NOT NEW.id;
END;
CREATE TRIGGER backup_changes_owner_companies_delete AFTER DELETE ON companies BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.id, generation FROM backup_lineage WHERE OLD.id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_memberships_insert AFTER INSERT ON memberships BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_memberships_update AFTER UPDATE ON memberships BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NEW.company_id;
END;
CREATE TRIGGER backup_changes_owner_memberships_delete AFTER DELETE ON memberships BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_templates_insert AFTER INSERT ON templates BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_templates_update AFTER UPDATE ON templates BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NEW.company_id;
END;
CREATE TRIGGER backup_changes_owner_templates_delete AFTER DELETE ON templates BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_folder_templates_insert AFTER INSERT ON folder_templates BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_folder_templates_update AFTER UPDATE ON folder_templates BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NEW.company_id;
END;
CREATE TRIGGER backup_changes_owner_folder_templates_delete AFTER DELETE ON folder_templates BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_folders_insert AFTER INSERT ON folders BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_folders_update AFTER UPDATE ON folders BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NEW.company_id;
END;
CREATE TRIGGER backup_changes_owner_folders_delete AFTER DELETE ON folders BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_documents_insert AFTER INSERT ON documents BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_documents_update AFTER UPDATE ON documents BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NEW.company_id;
END;
CREATE TRIGGER backup_changes_owner_documents_delete AFTER DELETE ON documents BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_files_insert AFTER INSERT ON files BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_files_update AFTER UPDATE ON files BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NEW.company_id;
END;
CREATE TRIGGER backup_changes_owner_files_delete AFTER DELETE ON files BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_shares_insert AFTER INSERT ON shares BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_shares_update AFTER UPDATE ON shares BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NEW.company_id;
END;
CREATE TRIGGER backup_changes_owner_shares_delete AFTER DELETE ON shares BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_search_entries_insert AFTER INSERT ON search_entries BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_search_entries_update AFTER UPDATE ON search_entries BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || NEW.company_id, generation FROM backup_lineage WHERE NEW.company_id IS NOT NULL;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NEW.company_id;
END;
CREATE TRIGGER backup_changes_owner_search_entries_delete AFTER DELETE ON search_entries BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || OLD.company_id, generation FROM backup_lineage WHERE OLD.company_id IS NOT NULL;
END;
CREATE TRIGGER backup_changes_owner_template_versions_insert AFTER INSERT ON template_versions BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM templates p, backup_lineage l
    WHERE p.id = NEW.template_id;
END;
CREATE TRIGGER backup_changes_owner_template_versions_update AFTER UPDATE ON template_versions BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM templates p, backup_lineage l
    WHERE p.id = NEW.template_id;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM templates p, backup_lineage l
    WHERE p.id = OLD.template_id AND OLD.template_id IS NOT NEW.template_id;
END;
CREATE TRIGGER backup_changes_owner_template_versions_delete AFTER DELETE ON template_versions BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM templates p, backup_lineage l
    WHERE p.id = OLD.template_id;
END;
CREATE TRIGGER backup_changes_owner_folder_paths_insert AFTER INSERT ON folder_paths BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM folders p, backup_lineage l
    WHERE p.id = NEW.folder_id;
END;
CREATE TRIGGER backup_changes_owner_folder_paths_update AFTER UPDATE ON folder_paths BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM folders p, backup_lineage l
    WHERE p.id = NEW.folder_id;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM folders p, backup_lineage l
    WHERE p.id = OLD.folder_id AND OLD.folder_id IS NOT NEW.folder_id;
END;
CREATE TRIGGER backup_changes_owner_folder_paths_delete AFTER DELETE ON folder_paths BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM folders p, backup_lineage l
    WHERE p.id = OLD.folder_id;
END;
CREATE TRIGGER backup_changes_owner_document_versions_insert AFTER INSERT ON document_versions BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM documents p, backup_lineage l
    WHERE p.id = NEW.document_id;
END;
CREATE TRIGGER backup_changes_owner_document_versions_update AFTER UPDATE ON document_versions BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM documents p, backup_lineage l
    WHERE p.id = NEW.document_id;
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM documents p, backup_lineage l
    WHERE p.id = OLD.document_id AND OLD.document_id IS NOT NEW.document_id;
END;
CREATE TRIGGER backup_changes_owner_document_versions_delete AFTER DELETE ON document_versions BEGIN
    INSERT OR REPLACE INTO backup_owner_changes (owner, generation)
    SELECT 'company:' || p.company_id, l.generation FROM documents p, backup_lineage l
    WHERE p.id = OLD.document_id;
END;
