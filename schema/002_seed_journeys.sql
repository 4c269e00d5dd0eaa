-- The two journeys every new database starts with.
INSERT INTO journeys (key, name, created_at, updated_at) VALUES
    ('purchase', 'Purchase journey', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
     CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    ('rean', 'REAN journey', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
     CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

WITH p(journey, key, name, position) AS (VALUES
    ('purchase', 'awareness', 'Awareness', 0),
    ('purchase', 'consideration', 'Consideration', 1),
    ('purchase', 'purchase', 'Purchase', 2),
    ('purchase', 'ownership', 'Ownership', 3),
    ('purchase', 'aftercare', 'Aftercare', 4),
    ('rean', 'reach', 'Reach', 0),
    ('rean', 'engage', 'Engage', 1),
    ('rean', 'activate', 'Activate', 2),
    ('rean', 'nurture', 'Nurture', 3))
INSERT INTO phases (journey_id, key, name, position)
SELECT j.id, p.key, p.name, p.position FROM p JOIN journeys j ON j.key = p.journey;
