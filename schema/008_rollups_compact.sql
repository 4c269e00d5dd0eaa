-- Rollups keep their histogram in one BLOB, h, beside the count n: the 46 counts after n of
-- struct hist (NPS 0-10, CSAT 1-5, CES 1-7, expectation below/met/exceeded, then 1-5 for each
-- rating area: interaction, content, recovery, value), each a zigzag LEB128 varint, in that
-- order. One column instead of 47 makes the writer's upsert per bucket about half as costly
-- (it was the largest part of a durable write) and the rows smaller. The store registers the
-- functions that read and write h on every connection (store_rollups.c): polku_hist_add(h, h)
-- adds two, polku_hist_sub(h, nps, csat, ces, expectation, r_interaction, r_content,
-- r_recovery, r_value) takes one response out, and the aggregate polku_hist(the same eight
-- columns) builds h from raw responses.
--
-- From this migration on, `polku rollup rebuild` runs the rebuild section of the newest
-- migration that has one (this one), which fills all four tables; the older sections only run
-- as part of their own migration.

DROP TRIGGER responses_rollup_day_delete;
DROP TRIGGER responses_rollup_month_delete;
DROP TRIGGER responses_rollup_day_tp_delete;
DROP TRIGGER responses_rollup_month_tp_delete;
DROP TABLE rollup_day;
DROP TABLE rollup_month;
DROP TABLE rollup_day_tp;
DROP TABLE rollup_month_tp;

CREATE TABLE rollup_day (
    touchpoint_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    channel TEXT NOT NULL,
    segment TEXT NOT NULL,
    n INTEGER NOT NULL,
    h BLOB NOT NULL,
    PRIMARY KEY (touchpoint_id, day, channel, segment)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_day_bucket ON rollup_day(day);

CREATE TABLE rollup_month (
    touchpoint_id INTEGER NOT NULL,
    month INTEGER NOT NULL,
    channel TEXT NOT NULL,
    segment TEXT NOT NULL,
    n INTEGER NOT NULL,
    h BLOB NOT NULL,
    PRIMARY KEY (touchpoint_id, month, channel, segment)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_month_bucket ON rollup_month(month);

CREATE TABLE rollup_day_tp (
    touchpoint_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    n INTEGER NOT NULL,
    h BLOB NOT NULL,
    PRIMARY KEY (touchpoint_id, day)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_day_tp_bucket ON rollup_day_tp(day);

CREATE TABLE rollup_month_tp (
    touchpoint_id INTEGER NOT NULL,
    month INTEGER NOT NULL,
    n INTEGER NOT NULL,
    h BLOB NOT NULL,
    PRIMARY KEY (touchpoint_id, month)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_month_tp_bucket ON rollup_month_tp(month);

-- Deletes subtract, and a bucket that reaches n = 0 goes (a rebuild would not have it).
CREATE TRIGGER responses_rollup_day_delete AFTER DELETE ON responses BEGIN
    UPDATE rollup_day SET n = n - 1, h = polku_hist_sub(h, OLD.nps, OLD.csat, OLD.ces, OLD.expectation, OLD.r_interaction,
        OLD.r_content, OLD.r_recovery, OLD.r_value)
    WHERE touchpoint_id = OLD.touchpoint_id AND day = polku_day(OLD.submitted_at)
      AND channel = coalesce(OLD.channel, '') AND segment = coalesce(OLD.segment, '');
    DELETE FROM rollup_day
    WHERE touchpoint_id = OLD.touchpoint_id AND day = polku_day(OLD.submitted_at)
      AND channel = coalesce(OLD.channel, '') AND segment = coalesce(OLD.segment, '') AND n = 0;
END;

CREATE TRIGGER responses_rollup_month_delete AFTER DELETE ON responses BEGIN
    UPDATE rollup_month SET n = n - 1, h = polku_hist_sub(h, OLD.nps, OLD.csat, OLD.ces, OLD.expectation, OLD.r_interaction,
        OLD.r_content, OLD.r_recovery, OLD.r_value)
    WHERE touchpoint_id = OLD.touchpoint_id AND month = polku_month(OLD.submitted_at)
      AND channel = coalesce(OLD.channel, '') AND segment = coalesce(OLD.segment, '');
    DELETE FROM rollup_month
    WHERE touchpoint_id = OLD.touchpoint_id AND month = polku_month(OLD.submitted_at)
      AND channel = coalesce(OLD.channel, '') AND segment = coalesce(OLD.segment, '') AND n = 0;
END;

CREATE TRIGGER responses_rollup_day_tp_delete AFTER DELETE ON responses BEGIN
    UPDATE rollup_day_tp SET n = n - 1, h = polku_hist_sub(h, OLD.nps, OLD.csat, OLD.ces, OLD.expectation, OLD.r_interaction,
        OLD.r_content, OLD.r_recovery, OLD.r_value)
    WHERE touchpoint_id = OLD.touchpoint_id AND day = polku_day(OLD.submitted_at);
    DELETE FROM rollup_day_tp
    WHERE touchpoint_id = OLD.touchpoint_id AND day = polku_day(OLD.submitted_at) AND n = 0;
END;

CREATE TRIGGER responses_rollup_month_tp_delete AFTER DELETE ON responses BEGIN
    UPDATE rollup_month_tp SET n = n - 1, h = polku_hist_sub(h, OLD.nps, OLD.csat, OLD.ces, OLD.expectation, OLD.r_interaction,
        OLD.r_content, OLD.r_recovery, OLD.r_value)
    WHERE touchpoint_id = OLD.touchpoint_id AND month = polku_month(OLD.submitted_at);
    DELETE FROM rollup_month_tp
    WHERE touchpoint_id = OLD.touchpoint_id AND month = polku_month(OLD.submitted_at) AND n = 0;
END;

-- rebuild: the statements below fill all four rollup tables from the responses; `polku rollup
-- rebuild` empties the tables and runs them again.
INSERT INTO rollup_day (touchpoint_id, day, channel, segment, n, h)
SELECT touchpoint_id, polku_day(submitted_at), coalesce(channel, ''), coalesce(segment, ''), count(*),
       polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value)
FROM responses GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_month (touchpoint_id, month, channel, segment, n, h)
SELECT touchpoint_id, polku_month(submitted_at), coalesce(channel, ''), coalesce(segment, ''), count(*),
       polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value)
FROM responses GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_day_tp (touchpoint_id, day, n, h)
SELECT touchpoint_id, polku_day(submitted_at), count(*),
       polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value)
FROM responses GROUP BY 1, 2;

INSERT INTO rollup_month_tp (touchpoint_id, month, n, h)
SELECT touchpoint_id, polku_month(submitted_at), count(*),
       polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value)
FROM responses GROUP BY 1, 2;
