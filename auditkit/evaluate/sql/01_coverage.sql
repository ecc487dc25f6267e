-- Entitlement coverage: the loaded coverage intervals, or else from the earliest grant
-- or membership onwards, merged into disjoint intervals so that an instant lies in at
-- most one. Intervals that touch or overlap merge; empty ones cover nothing.
CREATE OR REPLACE TEMP TABLE ak_coverage AS
WITH spans AS (
    SELECT valid_from, coalesce(valid_to, TIMESTAMP '9999-12-31') AS valid_to
    FROM coverage
    UNION ALL
    SELECT min(valid_from), TIMESTAMP '9999-12-31'
    FROM (
        SELECT valid_from FROM grants
        UNION ALL
        SELECT valid_from FROM memberships
    )
    WHERE NOT EXISTS (SELECT 1 FROM coverage)
    HAVING min(valid_from) IS NOT NULL
),
reaches AS (
    SELECT
        valid_from,
        valid_to,
        max(valid_to) OVER (
            ORDER BY valid_from, valid_to
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reach_before
    FROM spans
    WHERE valid_to > valid_from
),
islands AS (
    SELECT
        valid_from,
        valid_to,
        sum(CASE WHEN valid_from <= reach_before THEN 0 ELSE 1 END) OVER (
            ORDER BY valid_from, valid_to
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS island
    FROM reaches
)
SELECT min(valid_from) AS valid_from, max(valid_to) AS valid_to
FROM islands
GROUP BY island;
