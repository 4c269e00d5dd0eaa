-- Recent idempotency fingerprints are kept in memory; only older ones are indexed.
--
-- The index on fp (migration 11) put every keyed request's entry on a random page of the
-- index: with a client's random keys (UUIDs) a flood of keyed requests dirtied most of the
-- index's pages between two checkpoints, and the writer's last step of each checkpoint synced
-- those scattered pages while every write waited (p99 about 12 ms, against 3-4 ms without
-- keys). Now the writer keeps the fingerprints of recent records in memory (rebuilt at start
-- from the records not merged yet: those after the newest merged one, in id order), and
-- only once more than a few hundred thousand are held does it merge the oldest into this
-- partial index, a few hundred per transaction (server/store_idem.c). A flood of keyed
-- requests of up to that size writes no random index page at all; beyond it, about as many as
-- before. Records of before this migration are merged (the column's default); new ones are
-- written with merged = 0.
ALTER TABLE idempotency_records ADD COLUMN merged INTEGER NOT NULL DEFAULT 1;
DROP INDEX idempotency_records_fp;
CREATE INDEX idempotency_records_merged_fp ON idempotency_records(fp) WHERE merged = 1;

-- Record ids never go back, as for responses, keys and targets (migration 13; the writer
-- inserts with FRESH_ID): every record after the newest merged one is then unmerged, even after
-- the purge emptied the table, and a server finds another's records after the newest id it has
-- seen. Only deleting the newest record needs remembering: the purge deletes the oldest.
CREATE TRIGGER idempotency_records_id_retired AFTER DELETE ON idempotency_records
WHEN old.id > coalesce((SELECT max(id) FROM idempotency_records), 0) BEGIN
    INSERT INTO ids_retired (name, id) VALUES ('idempotency_records', old.id)
    ON CONFLICT (name) DO UPDATE SET id = max(id, excluded.id);
END;
