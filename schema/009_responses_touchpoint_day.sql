-- Responses are found by touchpoint and UTC day (submitted_at / 86400000, the expression every
-- time-range query repeats next to its exact submitted_at bounds) instead of by touchpoint and
-- exact time. Within one (touchpoint, day) the index is in rowid order, so a new response goes
-- to the end of its group whatever its submitted_at: responses submitted out of order (an app
-- syncing late, a survey tool posting a day's answers) no longer land on a random page of the
-- index each. On the bench's ingest (submitted_at anywhere in the last day) the random pages
-- had made every WAL checkpoint copy thousands of distinct pages, a 20-25 ms stall of the
-- writer several times a second. A range query reads at most the rest of its first and last
-- day for each touchpoint and filters them by submitted_at.
CREATE INDEX responses_touchpoint_day ON responses(touchpoint_id, submitted_at / 86400000);
DROP INDEX responses_touchpoint_time;
