-- The configured scope of each principal in each window: the elements an allow grant
-- (conditional or not) reaching the principal matches at some instant of the window,
-- unless one unconditional deny reaching it covers that whole stretch. Lifecycle events
-- are not applied: this is the scope as configured, not what an active principal holds.
CREATE OR REPLACE TEMP TABLE dr_window_scope AS
WITH firm_denies AS (
    SELECT *
    FROM dr_matches
    WHERE effect = 'deny' AND NOT conditional
),
allowed AS (
    SELECT
        w.period_index,
        w.root_type,
        w.root_id,
        w.window_name,
        m.element_id,
        greatest(m.valid_from, w.window_start) AS stretch_start,
        least(m.valid_to, w.window_end) AS stretch_end
    FROM dr_windows AS w
    JOIN dr_matches AS m
        ON m.period_index = w.period_index
        AND m.root_type = w.root_type
        AND m.root_id = w.root_id
    WHERE m.effect = 'allow'
        AND m.valid_from < w.window_end
        AND m.valid_to > w.window_start
),
kept AS (
    SELECT a.*
    FROM allowed AS a
    ANTI JOIN firm_denies AS d
        ON d.period_index = a.period_index
        AND d.element_id = a.element_id
        AND d.root_type = a.root_type
        AND d.root_id = a.root_id
        AND d.valid_from <= a.stretch_start
        AND d.valid_to >= a.stretch_end
)
SELECT DISTINCT period_index, root_type, root_id, window_name, element_id
FROM kept;

