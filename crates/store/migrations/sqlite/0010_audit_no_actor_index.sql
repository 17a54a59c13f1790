-- Every event by a thousand different people touched a different page of
-- this index, so each move of staged events rewrote (and re-encrypted) a
-- page per event; no query used it (the audit API filters a company's
-- events by actor, or by actor or personal key, within its own index).
DROP INDEX audit_events_actor;
