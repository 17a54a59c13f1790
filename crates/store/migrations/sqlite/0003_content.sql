-- Content: folders, templates, documents with their versions, attachments,
-- shares and the search index. Every table of company data carries
-- company_id; times are INTEGER milliseconds since the Unix epoch (UTC).

-- Folder trees. `member_access` is the folder's own setting
-- ('inherit' below the top level by default); `access_in_force` is that
-- setting resolved down the tree, and `in_trash` whether the folder or one
-- above it was deleted: both are derived, kept true by every change to the
-- tree, so listing and search filter by rights inside one query.
CREATE TABLE folders (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    parent_id TEXT REFERENCES folders (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    member_access TEXT NOT NULL CHECK (member_access IN ('inherit', 'none', 'view', 'edit')),
    access_in_force TEXT NOT NULL CHECK (access_in_force IN ('none', 'view', 'edit')),
    template_id TEXT,
    identifiers TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    deleted_by TEXT,
    in_trash BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX folders_parent ON folders (parent_id, name);
CREATE INDEX folders_company ON folders (company_id, parent_id);

-- The closure of the folder tree: one row per folder and each folder above
-- it, itself included at depth 0.
CREATE TABLE folder_paths (
    folder_id TEXT NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    ancestor_id TEXT NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    depth INTEGER NOT NULL,
    PRIMARY KEY (folder_id, ancestor_id)
);
CREATE INDEX folder_paths_ancestor ON folder_paths (ancestor_id, depth);

-- Document templates; each change makes a new row in template_versions.
CREATE TABLE templates (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX templates_company ON templates (company_id, name);

CREATE TABLE template_versions (
    template_id TEXT NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    fields TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (template_id, version)
);

-- Folder templates (project skeletons): identifier fields and one level of
-- sub-folders and documents, as JSON.
CREATE TABLE folder_templates (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX folder_templates_company ON folder_templates (company_id, name);

-- Documents: the newest version; every version also in document_versions.
-- `fields` is a JSON object keyed by field key, `files` a JSON array of the
-- ids of the attachments of this version.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    folder_id TEXT NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    template_id TEXT REFERENCES templates (id),
    template_version INTEGER,
    fields TEXT NOT NULL,
    files TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'completed')),
    version INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER,
    deleted_by TEXT
);
CREATE INDEX documents_folder ON documents (folder_id, title);
CREATE INDEX documents_company ON documents (company_id);

CREATE TABLE document_versions (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    fields TEXT NOT NULL,
    files TEXT NOT NULL,
    status TEXT NOT NULL,
    author_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    changes TEXT NOT NULL,
    restored_from INTEGER,
    PRIMARY KEY (document_id, version)
);

-- Attachments. The bytes are in the blob store under `blob_key`, encrypted
-- under the file's own data key, which is stored here wrapped by its
-- company's key (`kek_id`). A file removed from the newest version keeps
-- `detached_at` and stays restorable for 30 days.
CREATE TABLE files (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    kek_id TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    detached_at INTEGER
);
CREATE INDEX files_document ON files (document_id);
CREATE INDEX files_company ON files (company_id);

-- Grants on a folder or document to one user. A share to someone outside
-- the company is 'pending' until they accept; a guest's re-share names the
-- share it was made under (`via_share_id`) and ends with it.
CREATE TABLE shares (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    object_type TEXT NOT NULL CHECK (object_type IN ('folder', 'document')),
    object_id TEXT NOT NULL,
    grantee_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grant_right TEXT NOT NULL CHECK (grant_right IN ('view', 'edit', 'manage')),
    expires_at INTEGER,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active')),
    via_share_id TEXT REFERENCES shares (id) ON DELETE CASCADE,
    notify BOOLEAN NOT NULL,
    language TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    accepted_at INTEGER,
    CONSTRAINT shares_object_grantee_key UNIQUE (object_id, grantee_id)
);
CREATE INDEX shares_grantee ON shares (grantee_id, object_id);
CREATE INDEX shares_company ON shares (company_id);

-- An invitation token may be for a share instead of a membership.
ALTER TABLE one_time_tokens ADD COLUMN share_id TEXT REFERENCES shares (id) ON DELETE CASCADE;

-- Full-text search over document titles, field values and attachment
-- names (SQLite: FTS5; search_entries maps an FTS row to its document).
CREATE TABLE search_entries (
    rowid INTEGER PRIMARY KEY,
    object_id TEXT NOT NULL UNIQUE,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE
);
CREATE VIRTUAL TABLE search_text USING fts5 (
    title, body, tokenize = 'unicode61 remove_diacritics 2'
);
