-- Idempotency records in arrival order, found through a small index of fingerprints.
--
-- Before, a record was a WITHOUT ROWID row keyed by (principal, idem_key) that also held the
-- rendered body (about 450 bytes): with a client's random keys (UUIDs) every record landed on a
-- random page of a table of about 7 rows per page. A commit wrote one 4 KiB WAL page per key,
-- checkpoints copied scattered pages, and the lookups read pages that no cache held: ingest
-- with a key on every request ran at half the speed of ingest without.
--
-- Now the records (body included) are appended in rowid order, and only the index on fp is
-- random: fp is the first 8 bytes of SHA-256(principal NUL idem_key) as a signed integer
-- (polku_idem_fp), an index entry of about 16 bytes, some 250 to a page. The index is not
-- unique: two keys with the same fp are told apart by principal and idem_key in the row, and
-- the writer (the only one that writes records) checks that a key is not recorded before it
-- records it. Records older than --idempotency-ttl (24 hours by default) are deleted by the
-- writer, oldest first, a few hundred per transaction.
CREATE TABLE idempotency_records (
    id           INTEGER PRIMARY KEY,
    fp           INTEGER NOT NULL,
    principal    TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) STRICT;
INSERT INTO idempotency_records (fp, principal, idem_key, request_hash, status, body, created_at)
    SELECT polku_idem_fp(principal, idem_key), principal, idem_key, request_hash, status, body,
           created_at
    FROM idempotency ORDER BY created_at;
DROP TABLE idempotency;
CREATE INDEX idempotency_records_fp ON idempotency_records(fp);
