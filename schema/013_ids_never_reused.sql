-- Ids that clients hold (responses, API keys, targets) are never given twice.
--
-- An INTEGER PRIMARY KEY without AUTOINCREMENT takes one more than the largest id in the table,
-- so deleting the newest row handed its id to the next one. Then an Idempotency-Key replay of
-- the deleted response answered with an id (and Location) that named another customer's
-- response, a DELETE retried after a lost answer removed the wrong row, and a client's cache or
-- list cursor mixed two rows up. AUTOINCREMENT would need the tables rebuilt (10 million
-- responses copied, and the catalog's foreign keys switched off outside a transaction), so
-- instead these triggers remember, per table, the largest id ever deleted, and inserts take
-- one more than the larger of that and the table's own largest id (FRESH_ID in
-- server/store_int.h; the writer looks it up once per transaction for responses).
CREATE TABLE ids_retired (
    name TEXT PRIMARY KEY, -- the table
    id   INTEGER NOT NULL  -- the largest id deleted from it
) STRICT, WITHOUT ROWID;

CREATE TRIGGER responses_id_retired AFTER DELETE ON responses BEGIN
    INSERT INTO ids_retired (name, id) VALUES ('responses', old.id)
    ON CONFLICT (name) DO UPDATE SET id = max(id, excluded.id);
END;

CREATE TRIGGER api_keys_id_retired AFTER DELETE ON api_keys BEGIN
    INSERT INTO ids_retired (name, id) VALUES ('api_keys', old.id)
    ON CONFLICT (name) DO UPDATE SET id = max(id, excluded.id);
END;

CREATE TRIGGER targets_id_retired AFTER DELETE ON targets BEGIN
    INSERT INTO ids_retired (name, id) VALUES ('targets', old.id)
    ON CONFLICT (name) DO UPDATE SET id = max(id, excluded.id);
END;
