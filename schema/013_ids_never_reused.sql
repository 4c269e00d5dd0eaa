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

-- Ids deleted before this migration are not known, but the one that matters is: the newest
-- response an Idempotency-Key still replays (records are appended in id order, and a batch's
-- reply lists its ids in order). If it was deleted, the next response must not take its id.
INSERT INTO ids_retired (name, id)
SELECT 'responses', id FROM (
    SELECT CASE WHEN json_valid(body)
                THEN coalesce(json_extract(body, '$.id'), json_extract(body, '$.items[#-1].id'))
           END AS id
    FROM idempotency_records WHERE id = (SELECT max(id) FROM idempotency_records))
WHERE typeof(id) = 'integer' AND id > 0;

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
