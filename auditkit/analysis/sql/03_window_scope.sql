-- The configured scope of each principal in each window: the elements an allow grant
-- (conditional or not) reaching the principal matches at some instant of the window,
-- unless one unconditional deny reaching it covers that whole stretch. Lifecycle events
-- are not applied: this is the scope as configured, not what an active principal holds.
CREATE OR REPLACE TEMP TABLE dr_window_scope AS
SELECT
    w.period_index,
    w.root_type,
    w.root_id,
    w.window_name,
    m.element_id,
    list_sort(list_distinct(list(m.grant_id))) AS grant_ids,
    list_sort(list_distinct(flatten(list(m.link_ids)))) AS membership_ids
FROM dr_windows AS w
JOIN dr_matches AS m
    ON m.period_index = w.period_index
    AND m.root_type = w.root_type
    AND m.root_id = w.root_id
WHERE m.effect = 'allow'
    AND m.valid_from < w.window_end
    AND m.valid_to > w.window_start
    AND NOT EXISTS (
        SELECT 1
        FROM dr_matches AS d
        WHERE d.period_index = m.period_index
            AND d.element_id = m.element_id
            AND d.root_type = m.root_type
            AND d.root_id = m.root_id
            AND d.effect = 'deny'
            AND NOT d.conditional
            AND d.valid_from <= greatest(m.valid_from, w.window_start)
            AND d.valid_to >= least(m.valid_to, w.window_end)
    )
GROUP BY ALL;
