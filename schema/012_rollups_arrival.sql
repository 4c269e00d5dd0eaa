-- How late responses arrived, per touchpoint and local day, so that a part of a day reads only
-- the raw rows of that part (store_responses.c, scan_part_of_day).
--
-- Within a (touchpoint, UTC day) group of the index responses_touchpoint_day (migration 10) the
-- entries are in the order (received_at, submitted_at, id). For the rows of one local day in
-- that order, `late` bounds how far a row's submitted_at lies below the largest submitted_at
-- before it (0 when they arrived in time order, as live responses without an explicit
-- submitted_at and a history imported in time order do). Then a row with submitted_at >= x + late
-- means every later row of the day has submitted_at >= x, so the rows before x are all
-- before it in the index: a scan can stop there, and a part of a day costs in proportion to the
-- part, not to the day.
--
-- The writer keeps the three columns with the histograms (store_rollups.c): sub_max and
-- recv_max are the largest submitted_at and received_at counted, and a row received before
-- recv_max (the clock went back) makes late unknown (a very large value: scans read whole
-- days, as before). Deletes leave them as they are: a bound that is too large is still right.
-- The rebuild below computes them exactly, with a window over each group in index order.

-- And coarse rollups per touchpoint and UTC hour, so that a part of a day that a metrics query
-- needs (from or to inside a day) reads whole hours from here and raw rows only for what is
-- left of an hour at each edge: at most half an hour of rows, since the rest of a partial hour
-- can be read as its histogram less the other part. recv_min and recv_max are the smallest and
-- largest received_at of the hour's rows: the raw rows of an hour lie between them in the index
-- responses_touchpoint_day (touchpoint, UTC day, received_at, submitted_at), so the scan for a
-- part of an hour reads only that stretch of the index when the hour's rows arrived close
-- together (live responses, or a history imported in time order). Deletes subtract from n and h
-- and leave recv_min and recv_max (still bounds). UTC hours, not local ones: every zone's day
-- is made of whole UTC hours and, in zones with a half-hour offset, two half hours at its ends.
--
-- Queries that group or filter by channel or segment read parts of days from rollup_day and
-- the raw rows of the part, which `late` above keeps short.

ALTER TABLE rollup_day_tp ADD COLUMN sub_max INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_day_tp ADD COLUMN recv_max INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollup_day_tp ADD COLUMN late INTEGER NOT NULL DEFAULT 0;

CREATE TABLE rollup_hour_tp (
    touchpoint_id INTEGER NOT NULL,
    hour INTEGER NOT NULL,
    n INTEGER NOT NULL,
    h BLOB NOT NULL,
    recv_min INTEGER NOT NULL,
    recv_max INTEGER NOT NULL,
    PRIMARY KEY (touchpoint_id, hour)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_hour_tp_bucket ON rollup_hour_tp(hour);

CREATE TRIGGER responses_rollup_hour_tp_delete AFTER DELETE ON responses BEGIN
    UPDATE rollup_hour_tp SET n = n - 1, h = polku_hist_sub(h, OLD.nps, OLD.csat, OLD.ces, OLD.expectation, OLD.r_interaction,
        OLD.r_content, OLD.r_recovery, OLD.r_value)
    WHERE touchpoint_id = OLD.touchpoint_id AND hour = OLD.submitted_at / 3600000;
    DELETE FROM rollup_hour_tp
    WHERE touchpoint_id = OLD.touchpoint_id AND hour = OLD.submitted_at / 3600000 AND n = 0;
END;

-- All five are filled (`polku rollup rebuild` runs the newest rebuild section).
DELETE FROM rollup_day;
DELETE FROM rollup_month;
DELETE FROM rollup_day_tp;
DELETE FROM rollup_month_tp;

-- rebuild: the statements below fill all five rollup tables from the responses; `polku rollup
-- rebuild` empties the tables and runs them again.
INSERT INTO rollup_day (touchpoint_id, day, channel, segment, n, h)
SELECT touchpoint_id, polku_day(submitted_at), coalesce(channel, ''), coalesce(segment, ''), count(*),
       polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value)
FROM responses GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_month (touchpoint_id, month, channel, segment, n, h)
SELECT touchpoint_id, polku_month(submitted_at), coalesce(channel, ''), coalesce(segment, ''), count(*),
       polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value)
FROM responses GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_day_tp (touchpoint_id, day, n, h, sub_max, recv_max, late)
SELECT touchpoint_id, day, count(*),
       polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value),
       max(submitted_at), max(received_at), max(max(coalesce(before, 0) - submitted_at, 0))
FROM (SELECT touchpoint_id, polku_day(submitted_at) AS day, nps, csat, ces, expectation,
             r_interaction, r_content, r_recovery, r_value, submitted_at, received_at,
             max(submitted_at) OVER (
                 PARTITION BY touchpoint_id, polku_day(submitted_at), submitted_at / 86400000
                 ORDER BY received_at, submitted_at, id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
      FROM responses)
GROUP BY 1, 2;

INSERT INTO rollup_month_tp (touchpoint_id, month, n, h)
SELECT touchpoint_id, polku_month(submitted_at), count(*),
       polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value)
FROM responses GROUP BY 1, 2;

INSERT INTO rollup_hour_tp (touchpoint_id, hour, n, h, recv_min, recv_max)
SELECT touchpoint_id, submitted_at / 3600000, count(*),
       polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value),
       min(received_at), max(received_at)
FROM responses GROUP BY 1, 2;
