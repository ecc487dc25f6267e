-- Inactive periods of users and agents from lifecycle events. Of several state events
-- at one instant the last counts: by seq when every one of them has a seq, otherwise a
-- deactivation or suspension sorts after a reactivation (the deactivation wins).
CREATE OR REPLACE TEMP TABLE ak_state_events AS
SELECT
    principal_type,
    principal_id,
    ts,
    event_id,
    event_type IN ('deactivated', 'suspended') AS inactive,
    seq,
    bool_and(seq IS NOT NULL) OVER (PARTITION BY principal_type, principal_id, ts)
        AS all_sequenced
FROM events
WHERE event_type IN ('deactivated', 'suspended', 'reactivated')
    AND principal_type IN ('user', 'agent');

CREATE OR REPLACE TEMP TABLE ak_state_at AS
SELECT principal_type, principal_id, ts, inactive, event_id
FROM (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY principal_type, principal_id, ts
            ORDER BY
                CASE WHEN all_sequenced THEN seq END DESC NULLS LAST,
                inactive DESC,
                event_id DESC
        ) AS rank_at_instant
    FROM ak_state_events
)
WHERE rank_at_instant = 1;

-- Keep only the instants where the state changes (every principal starts active).
CREATE OR REPLACE TEMP TABLE ak_state_changes AS
SELECT *
FROM (
    SELECT
        *,
        lag(inactive, 1, FALSE) OVER (
            PARTITION BY principal_type, principal_id ORDER BY ts
        ) AS was_inactive
    FROM ak_state_at
)
WHERE inactive <> was_inactive;

CREATE OR REPLACE TEMP TABLE ak_inactive AS
SELECT
    principal_type,
    principal_id,
    event_id,
    valid_from,
    valid_to
FROM (
    SELECT
        principal_type,
        principal_id,
        event_id,
        inactive,
        ts AS valid_from,
        lead(ts, 1, TIMESTAMP '9999-12-31') OVER (
            PARTITION BY principal_type, principal_id ORDER BY ts
        ) AS valid_to
    FROM ak_state_changes
)
WHERE inactive;
