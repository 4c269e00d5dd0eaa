-- Coarser rollups for the common dashboard query that neither filters nor groups by channel or
-- segment: the same histograms per touchpoint x local day (and month) only, so such a query
-- reads about (channels x segments) times fewer rows. The writer maintains them with the
-- others (store_rollups.c); deletes subtract through triggers; a rebuild derives them from the
-- detailed rollups (the statements after the rebuild marker below).

CREATE TABLE rollup_day_tp (
    touchpoint_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
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
    PRIMARY KEY (touchpoint_id, day)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_day_tp_bucket ON rollup_day_tp(day);

CREATE TABLE rollup_month_tp (
    touchpoint_id INTEGER NOT NULL,
    month INTEGER NOT NULL,
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
    PRIMARY KEY (touchpoint_id, month)
) STRICT, WITHOUT ROWID;
CREATE INDEX rollup_month_tp_bucket ON rollup_month_tp(month);

CREATE TRIGGER responses_rollup_day_tp_delete AFTER DELETE ON responses BEGIN
    UPDATE rollup_day_tp SET
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
    WHERE touchpoint_id = OLD.touchpoint_id AND day = polku_day(OLD.submitted_at);
    DELETE FROM rollup_day_tp
    WHERE touchpoint_id = OLD.touchpoint_id AND day = polku_day(OLD.submitted_at) AND n = 0;
END;

CREATE TRIGGER responses_rollup_month_tp_delete AFTER DELETE ON responses BEGIN
    UPDATE rollup_month_tp SET
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
    WHERE touchpoint_id = OLD.touchpoint_id AND month = polku_month(OLD.submitted_at);
    DELETE FROM rollup_month_tp
    WHERE touchpoint_id = OLD.touchpoint_id AND month = polku_month(OLD.submitted_at) AND n = 0;
END;

-- rebuild: the statements below derive the coarse rollups from the detailed ones.

INSERT INTO rollup_day_tp (touchpoint_id, day,
        n, nps0, nps1, nps2, nps3, nps4, nps5, nps6, nps7, nps8, nps9, nps10, csat1, csat2,
        csat3, csat4, csat5, ces1, ces2, ces3, ces4, ces5, ces6, ces7, exp_below, exp_met,
        exp_exceeded, ri1, ri2, ri3, ri4, ri5, rc1, rc2, rc3, rc4, rc5, rr1, rr2, rr3, rr4, rr5,
        rv1, rv2, rv3, rv4, rv5)
SELECT touchpoint_id, day,
       sum(n), sum(nps0), sum(nps1), sum(nps2), sum(nps3), sum(nps4), sum(nps5), sum(nps6),
       sum(nps7), sum(nps8), sum(nps9), sum(nps10), sum(csat1), sum(csat2), sum(csat3),
       sum(csat4), sum(csat5), sum(ces1), sum(ces2), sum(ces3), sum(ces4), sum(ces5), sum(ces6),
       sum(ces7), sum(exp_below), sum(exp_met), sum(exp_exceeded), sum(ri1), sum(ri2), sum(ri3),
       sum(ri4), sum(ri5), sum(rc1), sum(rc2), sum(rc3), sum(rc4), sum(rc5), sum(rr1), sum(rr2),
       sum(rr3), sum(rr4), sum(rr5), sum(rv1), sum(rv2), sum(rv3), sum(rv4), sum(rv5)
FROM rollup_day GROUP BY touchpoint_id, day;

INSERT INTO rollup_month_tp (touchpoint_id, month,
        n, nps0, nps1, nps2, nps3, nps4, nps5, nps6, nps7, nps8, nps9, nps10, csat1, csat2,
        csat3, csat4, csat5, ces1, ces2, ces3, ces4, ces5, ces6, ces7, exp_below, exp_met,
        exp_exceeded, ri1, ri2, ri3, ri4, ri5, rc1, rc2, rc3, rc4, rc5, rr1, rr2, rr3, rr4, rr5,
        rv1, rv2, rv3, rv4, rv5)
SELECT touchpoint_id, month,
       sum(n), sum(nps0), sum(nps1), sum(nps2), sum(nps3), sum(nps4), sum(nps5), sum(nps6),
       sum(nps7), sum(nps8), sum(nps9), sum(nps10), sum(csat1), sum(csat2), sum(csat3),
       sum(csat4), sum(csat5), sum(ces1), sum(ces2), sum(ces3), sum(ces4), sum(ces5), sum(ces6),
       sum(ces7), sum(exp_below), sum(exp_met), sum(exp_exceeded), sum(ri1), sum(ri2), sum(ri3),
       sum(ri4), sum(ri5), sum(rc1), sum(rc2), sum(rc3), sum(rc4), sum(rc5), sum(rr1), sum(rr2),
       sum(rr3), sum(rr4), sum(rr5), sum(rv1), sum(rv2), sum(rv3), sum(rv4), sum(rv5)
FROM rollup_month GROUP BY touchpoint_id, month;
