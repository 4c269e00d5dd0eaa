-- Targets: a goal for a metric in a scope that metrics report attainment against. The scope is
-- global (no ids), a journey (journey_id), a phase (journey_id and phase_id) or a touchpoint
-- (touchpoint_id). One target per metric and scope.

CREATE TABLE targets (
    id            INTEGER PRIMARY KEY,
    metric        TEXT NOT NULL CHECK (metric IN ('nps', 'csat', 'ces', 'expectation')),
    value         REAL NOT NULL,
    journey_id    INTEGER REFERENCES journeys(id) ON DELETE CASCADE,
    phase_id      INTEGER REFERENCES phases(id) ON DELETE CASCADE,
    touchpoint_id INTEGER REFERENCES touchpoints(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX targets_scope ON targets (metric, coalesce(journey_id, 0),
    coalesce(phase_id, 0), coalesce(touchpoint_id, 0));
