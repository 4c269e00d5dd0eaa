-- Rollups: histograms of responses per touchpoint x calendar bucket x channel x segment, so
-- that metrics cost O(buckets), not O(responses). Buckets are local days and months in the
-- reporting time zone (day: days since 1970-01-01 of the local date; month: year * 12 + month - 1),
-- computed by the functions polku_day() and polku_month() that the store registers on every
-- connection. Triggers keep them exact in the same transaction as the responses they count:
-- inserts add, deletes subtract, and a bucket that reaches n = 0 is removed.
-- Channel and segment use '' for "none" (the API never accepts an empty string for either).

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE rollup_day (
    touchpoint_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    channel TEXT NOT NULL,
    segment TEXT NOT NULL,
    n INTEGER NOT NULL DEFAULT 0, nps0 INTEGER NOT NULL DEFAULT 0,
    nps1 INTEGER NOT NULL DEFAULT 0, nps2 INTEGER NOT NULL DEFAULT 0,
    nps3 INTEGER NOT NULL DEFAULT 0, nps4 INTEGER NOT NULL DEFAULT 0,
    nps5 INTEGER NOT NULL DEFAULT 0, nps6 INTEGER NOT NULL DEFAULT 0,
    nps7 INTEGER NOT NULL DEFAULT 0, nps8 INTEGER NOT NULL DEFAULT 0,
    nps9 INTEGER NOT NULL DEFAULT 0, nps10 INTEGER NOT NULL DEFAULT 0,
    csat1 INTEGER NOT NULL DEFAULT 0, csat2 INTEGER NOT NULL DEFAULT 0,
    csat3 INTEGER NOT NULL DEFAULT 0, csat4 INTEGER NOT NULL DEFAULT 0,
    csat5 INTEGER NOT NULL DEFAULT 0, ces1 INTEGER NOT NULL DEFAULT 0,
    ces2 INTEGER NOT NULL DEFAULT 0, ces3 INTEGER NOT NULL DEFAULT 0,
    ces4 INTEGER NOT NULL DEFAULT 0, ces5 INTEGER NOT NULL DEFAULT 0,
    ces6 INTEGER NOT NULL DEFAULT 0, ces7 INTEGER NOT NULL DEFAULT 0,
    exp_below INTEGER NOT NULL DEFAULT 0, exp_met INTEGER NOT NULL DEFAULT 0,
    exp_exceeded INTEGER NOT NULL DEFAULT 0, ri1 INTEGER NOT NULL DEFAULT 0,
    ri2 INTEGER NOT NULL DEFAULT 0, ri3 INTEGER NOT NULL DEFAULT 0,
    ri4 INTEGER NOT NULL DEFAULT 0, ri5 INTEGER NOT NULL DEFAULT 0,
    rc1 INTEGER NOT NULL DEFAULT 0, rc2 INTEGER NOT NULL DEFAULT 0,
    rc3 INTEGER NOT NULL DEFAULT 0, rc4 INTEGER NOT NULL DEFAULT 0,
    rc5 INTEGER NOT NULL DEFAULT 0, rr1 INTEGER NOT NULL DEFAULT 0,
    rr2 INTEGER NOT NULL DEFAULT 0, rr3 INTEGER NOT NULL DEFAULT 0,
    rr4 INTEGER NOT NULL DEFAULT 0, rr5 INTEGER NOT NULL DEFAULT 0,
    rv1 INTEGER NOT NULL DEFAULT 0, rv2 INTEGER NOT NULL DEFAULT 0,
    rv3 INTEGER NOT NULL DEFAULT 0, rv4 INTEGER NOT NULL DEFAULT 0,
    rv5 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (touchpoint_id, day, channel, segment)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_day_bucket ON rollup_day(day);

CREATE TABLE rollup_month (
    touchpoint_id INTEGER NOT NULL,
    month INTEGER NOT NULL,
    channel TEXT NOT NULL,
    segment TEXT NOT NULL,
    n INTEGER NOT NULL DEFAULT 0, nps0 INTEGER NOT NULL DEFAULT 0,
    nps1 INTEGER NOT NULL DEFAULT 0, nps2 INTEGER NOT NULL DEFAULT 0,
    nps3 INTEGER NOT NULL DEFAULT 0, nps4 INTEGER NOT NULL DEFAULT 0,
    nps5 INTEGER NOT NULL DEFAULT 0, nps6 INTEGER NOT NULL DEFAULT 0,
    nps7 INTEGER NOT NULL DEFAULT 0, nps8 INTEGER NOT NULL DEFAULT 0,
    nps9 INTEGER NOT NULL DEFAULT 0, nps10 INTEGER NOT NULL DEFAULT 0,
    csat1 INTEGER NOT NULL DEFAULT 0, csat2 INTEGER NOT NULL DEFAULT 0,
    csat3 INTEGER NOT NULL DEFAULT 0, csat4 INTEGER NOT NULL DEFAULT 0,
    csat5 INTEGER NOT NULL DEFAULT 0, ces1 INTEGER NOT NULL DEFAULT 0,
    ces2 INTEGER NOT NULL DEFAULT 0, ces3 INTEGER NOT NULL DEFAULT 0,
    ces4 INTEGER NOT NULL DEFAULT 0, ces5 INTEGER NOT NULL DEFAULT 0,
    ces6 INTEGER NOT NULL DEFAULT 0, ces7 INTEGER NOT NULL DEFAULT 0,
    exp_below INTEGER NOT NULL DEFAULT 0, exp_met INTEGER NOT NULL DEFAULT 0,
    exp_exceeded INTEGER NOT NULL DEFAULT 0, ri1 INTEGER NOT NULL DEFAULT 0,
    ri2 INTEGER NOT NULL DEFAULT 0, ri3 INTEGER NOT NULL DEFAULT 0,
    ri4 INTEGER NOT NULL DEFAULT 0, ri5 INTEGER NOT NULL DEFAULT 0,
    rc1 INTEGER NOT NULL DEFAULT 0, rc2 INTEGER NOT NULL DEFAULT 0,
    rc3 INTEGER NOT NULL DEFAULT 0, rc4 INTEGER NOT NULL DEFAULT 0,
    rc5 INTEGER NOT NULL DEFAULT 0, rr1 INTEGER NOT NULL DEFAULT 0,
    rr2 INTEGER NOT NULL DEFAULT 0, rr3 INTEGER NOT NULL DEFAULT 0,
    rr4 INTEGER NOT NULL DEFAULT 0, rr5 INTEGER NOT NULL DEFAULT 0,
    rv1 INTEGER NOT NULL DEFAULT 0, rv2 INTEGER NOT NULL DEFAULT 0,
    rv3 INTEGER NOT NULL DEFAULT 0, rv4 INTEGER NOT NULL DEFAULT 0,
    rv5 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (touchpoint_id, month, channel, segment)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_month_bucket ON rollup_month(month);

CREATE TRIGGER responses_rollup_day_insert AFTER INSERT ON responses BEGIN
    INSERT INTO rollup_day (touchpoint_id, day, channel, segment,
        n, nps0, nps1, nps2, nps3, nps4, nps5, nps6, nps7, nps8, nps9, nps10, csat1, csat2,
        csat3, csat4, csat5, ces1, ces2, ces3, ces4, ces5, ces6, ces7, exp_below, exp_met,
        exp_exceeded, ri1, ri2, ri3, ri4, ri5, rc1, rc2, rc3, rc4, rc5, rr1, rr2, rr3, rr4, rr5,
        rv1, rv2, rv3, rv4, rv5)
    VALUES (NEW.touchpoint_id, polku_day(NEW.submitted_at), coalesce(NEW.channel, ''),
        coalesce(NEW.segment, ''),
        1, (NEW.nps IS 0), (NEW.nps IS 1), (NEW.nps IS 2), (NEW.nps IS 3), (NEW.nps IS 4),
        (NEW.nps IS 5), (NEW.nps IS 6), (NEW.nps IS 7), (NEW.nps IS 8), (NEW.nps IS 9),
        (NEW.nps IS 10), (NEW.csat IS 1), (NEW.csat IS 2), (NEW.csat IS 3), (NEW.csat IS 4),
        (NEW.csat IS 5), (NEW.ces IS 1), (NEW.ces IS 2), (NEW.ces IS 3), (NEW.ces IS 4),
        (NEW.ces IS 5), (NEW.ces IS 6), (NEW.ces IS 7), (NEW.expectation IS 0),
        (NEW.expectation IS 1), (NEW.expectation IS 2), (NEW.r_interaction IS 1),
        (NEW.r_interaction IS 2), (NEW.r_interaction IS 3), (NEW.r_interaction IS 4),
        (NEW.r_interaction IS 5), (NEW.r_content IS 1), (NEW.r_content IS 2),
        (NEW.r_content IS 3), (NEW.r_content IS 4), (NEW.r_content IS 5), (NEW.r_recovery IS 1),
        (NEW.r_recovery IS 2), (NEW.r_recovery IS 3), (NEW.r_recovery IS 4),
        (NEW.r_recovery IS 5), (NEW.r_value IS 1), (NEW.r_value IS 2), (NEW.r_value IS 3),
        (NEW.r_value IS 4), (NEW.r_value IS 5))
    ON CONFLICT (touchpoint_id, day, channel, segment) DO UPDATE SET
        n = n + excluded.n, nps0 = nps0 + excluded.nps0, nps1 = nps1 + excluded.nps1,
        nps2 = nps2 + excluded.nps2, nps3 = nps3 + excluded.nps3, nps4 = nps4 + excluded.nps4,
        nps5 = nps5 + excluded.nps5, nps6 = nps6 + excluded.nps6, nps7 = nps7 + excluded.nps7,
        nps8 = nps8 + excluded.nps8, nps9 = nps9 + excluded.nps9,
        nps10 = nps10 + excluded.nps10, csat1 = csat1 + excluded.csat1,
        csat2 = csat2 + excluded.csat2, csat3 = csat3 + excluded.csat3,
        csat4 = csat4 + excluded.csat4, csat5 = csat5 + excluded.csat5,
        ces1 = ces1 + excluded.ces1, ces2 = ces2 + excluded.ces2, ces3 = ces3 + excluded.ces3,
        ces4 = ces4 + excluded.ces4, ces5 = ces5 + excluded.ces5, ces6 = ces6 + excluded.ces6,
        ces7 = ces7 + excluded.ces7, exp_below = exp_below + excluded.exp_below,
        exp_met = exp_met + excluded.exp_met,
        exp_exceeded = exp_exceeded + excluded.exp_exceeded, ri1 = ri1 + excluded.ri1,
        ri2 = ri2 + excluded.ri2, ri3 = ri3 + excluded.ri3, ri4 = ri4 + excluded.ri4,
        ri5 = ri5 + excluded.ri5, rc1 = rc1 + excluded.rc1, rc2 = rc2 + excluded.rc2,
        rc3 = rc3 + excluded.rc3, rc4 = rc4 + excluded.rc4, rc5 = rc5 + excluded.rc5,
        rr1 = rr1 + excluded.rr1, rr2 = rr2 + excluded.rr2, rr3 = rr3 + excluded.rr3,
        rr4 = rr4 + excluded.rr4, rr5 = rr5 + excluded.rr5, rv1 = rv1 + excluded.rv1,
        rv2 = rv2 + excluded.rv2, rv3 = rv3 + excluded.rv3, rv4 = rv4 + excluded.rv4,
        rv5 = rv5 + excluded.rv5;
END;

CREATE TRIGGER responses_rollup_day_delete AFTER DELETE ON responses BEGIN
    UPDATE rollup_day SET
        n = n - 1, nps0 = nps0 - (OLD.nps IS 0), nps1 = nps1 - (OLD.nps IS 1),
        nps2 = nps2 - (OLD.nps IS 2), nps3 = nps3 - (OLD.nps IS 3),
        nps4 = nps4 - (OLD.nps IS 4), nps5 = nps5 - (OLD.nps IS 5),
        nps6 = nps6 - (OLD.nps IS 6), nps7 = nps7 - (OLD.nps IS 7),
        nps8 = nps8 - (OLD.nps IS 8), nps9 = nps9 - (OLD.nps IS 9),
        nps10 = nps10 - (OLD.nps IS 10), csat1 = csat1 - (OLD.csat IS 1),
        csat2 = csat2 - (OLD.csat IS 2), csat3 = csat3 - (OLD.csat IS 3),
        csat4 = csat4 - (OLD.csat IS 4), csat5 = csat5 - (OLD.csat IS 5),
        ces1 = ces1 - (OLD.ces IS 1), ces2 = ces2 - (OLD.ces IS 2),
        ces3 = ces3 - (OLD.ces IS 3), ces4 = ces4 - (OLD.ces IS 4),
        ces5 = ces5 - (OLD.ces IS 5), ces6 = ces6 - (OLD.ces IS 6),
        ces7 = ces7 - (OLD.ces IS 7), exp_below = exp_below - (OLD.expectation IS 0),
        exp_met = exp_met - (OLD.expectation IS 1),
        exp_exceeded = exp_exceeded - (OLD.expectation IS 2),
        ri1 = ri1 - (OLD.r_interaction IS 1), ri2 = ri2 - (OLD.r_interaction IS 2),
        ri3 = ri3 - (OLD.r_interaction IS 3), ri4 = ri4 - (OLD.r_interaction IS 4),
        ri5 = ri5 - (OLD.r_interaction IS 5), rc1 = rc1 - (OLD.r_content IS 1),
        rc2 = rc2 - (OLD.r_content IS 2), rc3 = rc3 - (OLD.r_content IS 3),
        rc4 = rc4 - (OLD.r_content IS 4), rc5 = rc5 - (OLD.r_content IS 5),
        rr1 = rr1 - (OLD.r_recovery IS 1), rr2 = rr2 - (OLD.r_recovery IS 2),
        rr3 = rr3 - (OLD.r_recovery IS 3), rr4 = rr4 - (OLD.r_recovery IS 4),
        rr5 = rr5 - (OLD.r_recovery IS 5), rv1 = rv1 - (OLD.r_value IS 1),
        rv2 = rv2 - (OLD.r_value IS 2), rv3 = rv3 - (OLD.r_value IS 3),
        rv4 = rv4 - (OLD.r_value IS 4), rv5 = rv5 - (OLD.r_value IS 5)
    WHERE touchpoint_id = OLD.touchpoint_id AND day = polku_day(OLD.submitted_at)
      AND channel = coalesce(OLD.channel, '') AND segment = coalesce(OLD.segment, '');
    DELETE FROM rollup_day
    WHERE touchpoint_id = OLD.touchpoint_id AND day = polku_day(OLD.submitted_at)
      AND channel = coalesce(OLD.channel, '') AND segment = coalesce(OLD.segment, '') AND n = 0;
END;

CREATE TRIGGER responses_rollup_month_insert AFTER INSERT ON responses BEGIN
    INSERT INTO rollup_month (touchpoint_id, month, channel, segment,
        n, nps0, nps1, nps2, nps3, nps4, nps5, nps6, nps7, nps8, nps9, nps10, csat1, csat2,
        csat3, csat4, csat5, ces1, ces2, ces3, ces4, ces5, ces6, ces7, exp_below, exp_met,
        exp_exceeded, ri1, ri2, ri3, ri4, ri5, rc1, rc2, rc3, rc4, rc5, rr1, rr2, rr3, rr4, rr5,
        rv1, rv2, rv3, rv4, rv5)
    VALUES (NEW.touchpoint_id, polku_month(NEW.submitted_at), coalesce(NEW.channel, ''),
        coalesce(NEW.segment, ''),
        1, (NEW.nps IS 0), (NEW.nps IS 1), (NEW.nps IS 2), (NEW.nps IS 3), (NEW.nps IS 4),
        (NEW.nps IS 5), (NEW.nps IS 6), (NEW.nps IS 7), (NEW.nps IS 8), (NEW.nps IS 9),
        (NEW.nps IS 10), (NEW.csat IS 1), (NEW.csat IS 2), (NEW.csat IS 3), (NEW.csat IS 4),
        (NEW.csat IS 5), (NEW.ces IS 1), (NEW.ces IS 2), (NEW.ces IS 3), (NEW.ces IS 4),
        (NEW.ces IS 5), (NEW.ces IS 6), (NEW.ces IS 7), (NEW.expectation IS 0),
        (NEW.expectation IS 1), (NEW.expectation IS 2), (NEW.r_interaction IS 1),
        (NEW.r_interaction IS 2), (NEW.r_interaction IS 3), (NEW.r_interaction IS 4),
        (NEW.r_interaction IS 5), (NEW.r_content IS 1), (NEW.r_content IS 2),
        (NEW.r_content IS 3), (NEW.r_content IS 4), (NEW.r_content IS 5), (NEW.r_recovery IS 1),
        (NEW.r_recovery IS 2), (NEW.r_recovery IS 3), (NEW.r_recovery IS 4),
        (NEW.r_recovery IS 5), (NEW.r_value IS 1), (NEW.r_value IS 2), (NEW.r_value IS 3),
        (NEW.r_value IS 4), (NEW.r_value IS 5))
    ON CONFLICT (touchpoint_id, month, channel, segment) DO UPDATE SET
        n = n + excluded.n, nps0 = nps0 + excluded.nps0, nps1 = nps1 + excluded.nps1,
        nps2 = nps2 + excluded.nps2, nps3 = nps3 + excluded.nps3, nps4 = nps4 + excluded.nps4,
        nps5 = nps5 + excluded.nps5, nps6 = nps6 + excluded.nps6, nps7 = nps7 + excluded.nps7,
        nps8 = nps8 + excluded.nps8, nps9 = nps9 + excluded.nps9,
        nps10 = nps10 + excluded.nps10, csat1 = csat1 + excluded.csat1,
        csat2 = csat2 + excluded.csat2, csat3 = csat3 + excluded.csat3,
        csat4 = csat4 + excluded.csat4, csat5 = csat5 + excluded.csat5,
        ces1 = ces1 + excluded.ces1, ces2 = ces2 + excluded.ces2, ces3 = ces3 + excluded.ces3,
        ces4 = ces4 + excluded.ces4, ces5 = ces5 + excluded.ces5, ces6 = ces6 + excluded.ces6,
        ces7 = ces7 + excluded.ces7, exp_below = exp_below + excluded.exp_below,
        exp_met = exp_met + excluded.exp_met,
        exp_exceeded = exp_exceeded + excluded.exp_exceeded, ri1 = ri1 + excluded.ri1,
        ri2 = ri2 + excluded.ri2, ri3 = ri3 + excluded.ri3, ri4 = ri4 + excluded.ri4,
        ri5 = ri5 + excluded.ri5, rc1 = rc1 + excluded.rc1, rc2 = rc2 + excluded.rc2,
        rc3 = rc3 + excluded.rc3, rc4 = rc4 + excluded.rc4, rc5 = rc5 + excluded.rc5,
        rr1 = rr1 + excluded.rr1, rr2 = rr2 + excluded.rr2, rr3 = rr3 + excluded.rr3,
        rr4 = rr4 + excluded.rr4, rr5 = rr5 + excluded.rr5, rv1 = rv1 + excluded.rv1,
        rv2 = rv2 + excluded.rv2, rv3 = rv3 + excluded.rv3, rv4 = rv4 + excluded.rv4,
        rv5 = rv5 + excluded.rv5;
END;

CREATE TRIGGER responses_rollup_month_delete AFTER DELETE ON responses BEGIN
    UPDATE rollup_month SET
        n = n - 1, nps0 = nps0 - (OLD.nps IS 0), nps1 = nps1 - (OLD.nps IS 1),
        nps2 = nps2 - (OLD.nps IS 2), nps3 = nps3 - (OLD.nps IS 3),
        nps4 = nps4 - (OLD.nps IS 4), nps5 = nps5 - (OLD.nps IS 5),
        nps6 = nps6 - (OLD.nps IS 6), nps7 = nps7 - (OLD.nps IS 7),
        nps8 = nps8 - (OLD.nps IS 8), nps9 = nps9 - (OLD.nps IS 9),
        nps10 = nps10 - (OLD.nps IS 10), csat1 = csat1 - (OLD.csat IS 1),
        csat2 = csat2 - (OLD.csat IS 2), csat3 = csat3 - (OLD.csat IS 3),
        csat4 = csat4 - (OLD.csat IS 4), csat5 = csat5 - (OLD.csat IS 5),
        ces1 = ces1 - (OLD.ces IS 1), ces2 = ces2 - (OLD.ces IS 2),
        ces3 = ces3 - (OLD.ces IS 3), ces4 = ces4 - (OLD.ces IS 4),
        ces5 = ces5 - (OLD.ces IS 5), ces6 = ces6 - (OLD.ces IS 6),
        ces7 = ces7 - (OLD.ces IS 7), exp_below = exp_below - (OLD.expectation IS 0),
        exp_met = exp_met - (OLD.expectation IS 1),
        exp_exceeded = exp_exceeded - (OLD.expectation IS 2),
        ri1 = ri1 - (OLD.r_interaction IS 1), ri2 = ri2 - (OLD.r_interaction IS 2),
        ri3 = ri3 - (OLD.r_interaction IS 3), ri4 = ri4 - (OLD.r_interaction IS 4),
        ri5 = ri5 - (OLD.r_interaction IS 5), rc1 = rc1 - (OLD.r_content IS 1),
        rc2 = rc2 - (OLD.r_content IS 2), rc3 = rc3 - (OLD.r_content IS 3),
        rc4 = rc4 - (OLD.r_content IS 4), rc5 = rc5 - (OLD.r_content IS 5),
        rr1 = rr1 - (OLD.r_recovery IS 1), rr2 = rr2 - (OLD.r_recovery IS 2),
        rr3 = rr3 - (OLD.r_recovery IS 3), rr4 = rr4 - (OLD.r_recovery IS 4),
        rr5 = rr5 - (OLD.r_recovery IS 5), rv1 = rv1 - (OLD.r_value IS 1),
        rv2 = rv2 - (OLD.r_value IS 2), rv3 = rv3 - (OLD.r_value IS 3),
        rv4 = rv4 - (OLD.r_value IS 4), rv5 = rv5 - (OLD.r_value IS 5)
    WHERE touchpoint_id = OLD.touchpoint_id AND month = polku_month(OLD.submitted_at)
      AND channel = coalesce(OLD.channel, '') AND segment = coalesce(OLD.segment, '');
    DELETE FROM rollup_month
    WHERE touchpoint_id = OLD.touchpoint_id AND month = polku_month(OLD.submitted_at)
      AND channel = coalesce(OLD.channel, '') AND segment = coalesce(OLD.segment, '') AND n = 0;
END;

-- rebuild: the statements below fill the rollups from the responses; `polku rollup rebuild`
-- runs them again after emptying both tables.
INSERT INTO rollup_day (touchpoint_id, day, channel, segment,
        n, nps0, nps1, nps2, nps3, nps4, nps5, nps6, nps7, nps8, nps9, nps10, csat1, csat2,
        csat3, csat4, csat5, ces1, ces2, ces3, ces4, ces5, ces6, ces7, exp_below, exp_met,
        exp_exceeded, ri1, ri2, ri3, ri4, ri5, rc1, rc2, rc3, rc4, rc5, rr1, rr2, rr3, rr4, rr5,
        rv1, rv2, rv3, rv4, rv5)
SELECT r.touchpoint_id, polku_day(r.submitted_at), coalesce(r.channel, ''), coalesce(r.segment, ''),
       count(*), sum(r.nps IS 0), sum(r.nps IS 1), sum(r.nps IS 2), sum(r.nps IS 3),
       sum(r.nps IS 4), sum(r.nps IS 5), sum(r.nps IS 6), sum(r.nps IS 7), sum(r.nps IS 8),
       sum(r.nps IS 9), sum(r.nps IS 10), sum(r.csat IS 1), sum(r.csat IS 2), sum(r.csat IS 3),
       sum(r.csat IS 4), sum(r.csat IS 5), sum(r.ces IS 1), sum(r.ces IS 2), sum(r.ces IS 3),
       sum(r.ces IS 4), sum(r.ces IS 5), sum(r.ces IS 6), sum(r.ces IS 7),
       sum(r.expectation IS 0), sum(r.expectation IS 1), sum(r.expectation IS 2),
       sum(r.r_interaction IS 1), sum(r.r_interaction IS 2), sum(r.r_interaction IS 3),
       sum(r.r_interaction IS 4), sum(r.r_interaction IS 5), sum(r.r_content IS 1),
       sum(r.r_content IS 2), sum(r.r_content IS 3), sum(r.r_content IS 4),
       sum(r.r_content IS 5), sum(r.r_recovery IS 1), sum(r.r_recovery IS 2),
       sum(r.r_recovery IS 3), sum(r.r_recovery IS 4), sum(r.r_recovery IS 5),
       sum(r.r_value IS 1), sum(r.r_value IS 2), sum(r.r_value IS 3), sum(r.r_value IS 4),
       sum(r.r_value IS 5)
FROM responses r GROUP BY 1, 2, 3, 4;

INSERT INTO rollup_month (touchpoint_id, month, channel, segment,
        n, nps0, nps1, nps2, nps3, nps4, nps5, nps6, nps7, nps8, nps9, nps10, csat1, csat2,
        csat3, csat4, csat5, ces1, ces2, ces3, ces4, ces5, ces6, ces7, exp_below, exp_met,
        exp_exceeded, ri1, ri2, ri3, ri4, ri5, rc1, rc2, rc3, rc4, rc5, rr1, rr2, rr3, rr4, rr5,
        rv1, rv2, rv3, rv4, rv5)
SELECT r.touchpoint_id, polku_month(r.submitted_at), coalesce(r.channel, ''), coalesce(r.segment, ''),
       count(*), sum(r.nps IS 0), sum(r.nps IS 1), sum(r.nps IS 2), sum(r.nps IS 3),
       sum(r.nps IS 4), sum(r.nps IS 5), sum(r.nps IS 6), sum(r.nps IS 7), sum(r.nps IS 8),
       sum(r.nps IS 9), sum(r.nps IS 10), sum(r.csat IS 1), sum(r.csat IS 2), sum(r.csat IS 3),
       sum(r.csat IS 4), sum(r.csat IS 5), sum(r.ces IS 1), sum(r.ces IS 2), sum(r.ces IS 3),
       sum(r.ces IS 4), sum(r.ces IS 5), sum(r.ces IS 6), sum(r.ces IS 7),
       sum(r.expectation IS 0), sum(r.expectation IS 1), sum(r.expectation IS 2),
       sum(r.r_interaction IS 1), sum(r.r_interaction IS 2), sum(r.r_interaction IS 3),
       sum(r.r_interaction IS 4), sum(r.r_interaction IS 5), sum(r.r_content IS 1),
       sum(r.r_content IS 2), sum(r.r_content IS 3), sum(r.r_content IS 4),
       sum(r.r_content IS 5), sum(r.r_recovery IS 1), sum(r.r_recovery IS 2),
       sum(r.r_recovery IS 3), sum(r.r_recovery IS 4), sum(r.r_recovery IS 5),
       sum(r.r_value IS 1), sum(r.r_value IS 2), sum(r.r_value IS 3), sum(r.r_value IS 4),
       sum(r.r_value IS 5)
FROM responses r GROUP BY 1, 2, 3, 4;
