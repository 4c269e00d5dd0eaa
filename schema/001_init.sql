-- Polku's first schema: journeys and their phases, touchpoints, responses, API keys and
-- idempotency records. Times are integer milliseconds since the Unix epoch (UTC).

CREATE TABLE journeys (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- Phases are ordered by position within their journey; keys are unique per journey.
CREATE TABLE phases (
    id          INTEGER PRIMARY KEY,
    journey_id  INTEGER NOT NULL REFERENCES journeys(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    position    INTEGER NOT NULL,
    UNIQUE (journey_id, key)
) STRICT;

-- A touchpoint belongs to exactly one phase (and through it to one journey).
CREATE TABLE touchpoints (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT,
    phase_id    INTEGER NOT NULL REFERENCES phases(id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX touchpoints_phase ON touchpoints(phase_id);

-- One customer's feedback at one touchpoint. expectation: 0 below, 1 met, 2 exceeded.
CREATE TABLE responses (
    id              INTEGER PRIMARY KEY,
    touchpoint_id   INTEGER NOT NULL REFERENCES touchpoints(id),
    nps             INTEGER CHECK (nps BETWEEN 0 AND 10),
    csat            INTEGER CHECK (csat BETWEEN 1 AND 5),
    ces             INTEGER CHECK (ces BETWEEN 1 AND 7),
    expectation     INTEGER CHECK (expectation BETWEEN 0 AND 2),
    r_interaction   INTEGER CHECK (r_interaction BETWEEN 1 AND 5),
    r_content       INTEGER CHECK (r_content BETWEEN 1 AND 5),
    r_recovery      INTEGER CHECK (r_recovery BETWEEN 1 AND 5),
    r_value         INTEGER CHECK (r_value BETWEEN 1 AND 5),
    comment         TEXT,
    channel         TEXT,
    language        TEXT,
    customer        TEXT,
    segment         TEXT,
    properties      TEXT,
    submitted_at    INTEGER NOT NULL,
    received_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX responses_touchpoint_time ON responses(touchpoint_id, submitted_at);
CREATE INDEX responses_time ON responses(submitted_at);
CREATE INDEX responses_customer ON responses(customer) WHERE customer IS NOT NULL;

-- API keys: only the SHA-256 of the secret is kept; prefix is the public part used to find it.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    prefix      TEXT NOT NULL UNIQUE,
    hash        BLOB NOT NULL,
    scope       TEXT NOT NULL CHECK (scope IN ('submit', 'read', 'write', 'admin')),
    name        TEXT NOT NULL,
    origins     TEXT,
    created_at  INTEGER NOT NULL
) STRICT;

-- Idempotency-Key records, per principal (the key that sent the request). request_hash is the
-- SHA-256 of the path and the canonical JSON body; a replay answers status and body as first
-- sent.
CREATE TABLE idempotency (
    principal    TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (principal, idem_key)
) STRICT, WITHOUT ROWID;
