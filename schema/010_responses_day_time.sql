-- The (touchpoint, UTC day) index also carries received_at and submitted_at. received_at keeps
-- the order of arrival inside each (touchpoint, day) group, so a new response still goes to the
-- end of its group (the point of migration 9). submitted_at, after it, lets a range that starts
-- or ends inside a day test the rows' times in the index, and read from the table only the
-- responses inside the range: a metrics query from a late-evening instant read every response
-- of that day before (7 ms at 10M responses over a year), only the evening's now.
DROP INDEX responses_touchpoint_day;
CREATE INDEX responses_touchpoint_day
    ON responses(touchpoint_id, submitted_at / 86400000, received_at, submitted_at);
