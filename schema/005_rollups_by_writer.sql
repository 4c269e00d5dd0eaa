-- The writer now adds each transaction's responses to the rollups itself, one upsert per
-- bucket instead of two per response (store_rollups.c), so the insert triggers go. Deletes
-- still subtract through the triggers of migration 3, and a rebuild still recomputes
-- everything from the raw rows: inserting responses other than through Polku's store leaves
-- the rollups behind until `polku rollup rebuild`.
DROP TRIGGER responses_rollup_day_insert;
DROP TRIGGER responses_rollup_month_insert;
