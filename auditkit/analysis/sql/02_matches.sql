-- Every grant, as it reaches a user or agent (ak_reach), matched against the universe
-- of each period it overlaps. The last microsecond before the period counts, so that
-- the scope held just before the period can be compared with the scope at its end.
CREATE OR REPLACE TEMP TABLE dr_matches AS
SELECT
    u.period_index,
    u.element_id,
    r.root_type,
    r.root_id,
    r.grant_id,
    r.effect,
    r.conditional,
    r.valid_from,
    r.valid_to,
    r.link_ids
FROM dr_universe AS u
JOIN dr_periods AS p ON p.period_index = u.period_index
JOIN ak_reach AS r
    ON r.valid_from < p.period_end
    AND r.valid_to >= p.period_start
    AND CASE
        WHEN u.case_sensitive THEN u.action LIKE r.action_like ESCAPE '\'
        ELSE lower(u.action) LIKE lower(r.action_like) ESCAPE '\'
    END
    AND u.resource LIKE r.resource_like ESCAPE '\';

-- The windows asked about: for each user and agent with grants or calls in a period,
-- the whole period, the last microsecond before it and the last microsecond of it.
CREATE OR REPLACE TEMP TABLE dr_principals AS
SELECT DISTINCT m.period_index, m.root_type, m.root_id
FROM dr_matches AS m
UNION
SELECT period_index, 'agent', actor FROM dr_calls WHERE NOT flag_run_as_user
UNION
SELECT period_index, 'user', subject FROM dr_calls WHERE subject IS NOT NULL;

CREATE OR REPLACE TEMP TABLE dr_windows AS
SELECT
    s.period_index,
    s.root_type,
    s.root_id,
    w.window_name,
    CASE w.window_name
        WHEN 'period' THEN p.period_start
        WHEN 'before' THEN p.period_start - INTERVAL 1 MICROSECOND
        ELSE p.period_end - INTERVAL 1 MICROSECOND
    END AS window_start,
    CASE w.window_name
        WHEN 'before' THEN p.period_start
        ELSE p.period_end
    END AS window_end
FROM dr_principals AS s
JOIN dr_periods AS p ON p.period_index = s.period_index
CROSS JOIN (VALUES ('period'), ('before'), ('end')) AS w (window_name);
