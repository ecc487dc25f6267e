-- Per period and agent, every allow grant that reached the agent during the period,
-- with the universe elements it matches and the allowed within-scope calls whose agent
-- side it decided (the grant is in the finding's agent evidence).
CREATE OR REPLACE TEMP TABLE dr_grant_usage AS
WITH reached AS (
    SELECT
        p.period_index,
        r.root_id AS agent,
        r.grant_id,
        list_sort(list_distinct(flatten(list(r.link_ids)))) AS membership_ids
    FROM ak_reach AS r
    JOIN dr_periods AS p ON r.valid_from < p.period_end AND r.valid_to > p.period_start
    WHERE r.root_type = 'agent' AND r.effect = 'allow'
    GROUP BY ALL
),
evidence AS (
    SELECT
        period_index,
        actor AS agent,
        unnest(string_split(agent_evidence, ',')) AS grant_id,
        call_id
    FROM dr_calls
    WHERE allowed_use AND NOT flag_run_as_user AND agent_evidence <> ''
),
uses AS (
    SELECT period_index, agent, grant_id, count(DISTINCT call_id) AS calls
    FROM evidence
    GROUP BY ALL
),
covered AS (
    SELECT
        m.period_index,
        m.root_id AS agent,
        m.grant_id,
        count(DISTINCT m.element_id) AS permissions,
        max(list_position(
            ['read', 'write', 'export', 'external', 'delete', 'admin'], u.risk_tier
        )) AS tier_rank
    FROM dr_matches AS m
    JOIN dr_universe AS u ON u.element_id = m.element_id
    WHERE m.root_type = 'agent'
    GROUP BY ALL
)
SELECT
    r.period_index,
    r.agent,
    r.grant_id,
    g.action,
    g.resource,
    g.condition IS NOT NULL AS conditional,
    r.membership_ids,
    g.changed_by,
    coalesce(c.permissions, 0) AS permissions,
    coalesce(c.tier_rank, 0) AS tier_rank,
    coalesce(s.calls, 0) AS calls,
    coalesce(s.calls, 0) > 0 AS used
FROM reached AS r
JOIN grants AS g ON g.grant_id = r.grant_id
LEFT JOIN covered AS c
    ON c.period_index = r.period_index AND c.agent = r.agent AND c.grant_id = r.grant_id
LEFT JOIN uses AS s
    ON s.period_index = r.period_index AND s.agent = r.agent AND s.grant_id = r.grant_id;

-- Changes to an agent's allow grants inside each period: a grant starts reaching the
-- agent (added) or stops (removed). The cause is the grant or membership whose start
-- or end is the change, and its changed_by is the author.
CREATE OR REPLACE TEMP TABLE dr_growth AS
WITH changes AS (
    SELECT
        p.period_index,
        r.root_id AS agent,
        r.grant_id,
        'added' AS change,
        r.valid_from AS changed_at,
        r.from_ids AS causes,
        r.link_ids
    FROM ak_reach AS r
    JOIN dr_periods AS p
        ON r.valid_from >= p.period_start AND r.valid_from < p.period_end
    WHERE r.root_type = 'agent' AND r.effect = 'allow'
    UNION ALL
    SELECT
        p.period_index,
        r.root_id,
        r.grant_id,
        'removed',
        r.valid_to,
        r.to_ids,
        r.link_ids
    FROM ak_reach AS r
    JOIN dr_periods AS p ON r.valid_to >= p.period_start AND r.valid_to < p.period_end
    WHERE r.root_type = 'agent' AND r.effect = 'allow'
),
caused AS (
    SELECT *, unnest(causes) AS cause
    FROM changes
),
authored AS (
    SELECT
        c.*,
        CASE c.cause.kind
            WHEN 'grant' THEN g.changed_by
            ELSE m.changed_by
        END AS author
    FROM caused AS c
    LEFT JOIN grants AS g ON c.cause.kind = 'grant' AND g.grant_id = c.cause.id
    LEFT JOIN memberships AS m
        ON c.cause.kind = 'membership' AND m.membership_id = c.cause.id
)
SELECT
    a.period_index,
    a.agent,
    a.grant_id,
    a.change,
    a.changed_at,
    g.action,
    g.resource,
    array_to_string(list_sort(list_distinct(list(a.cause.id))), ',') AS causes,
    array_to_string(list_sort(list_distinct(flatten(list(a.link_ids)))), ',')
        AS memberships,
    coalesce(
        array_to_string(list_sort(list_distinct(list(a.author))), ','), ''
    ) AS author
FROM authored AS a
JOIN grants AS g ON g.grant_id = a.grant_id
GROUP BY a.period_index, a.agent, a.grant_id, a.change, a.changed_at, g.action,
    g.resource;

-- The intersection of each invoking (user, agent) pair of a period, element by element:
-- held by both over the period, just before it and at its end, and used by the pair's
-- allowed within-scope calls.
CREATE OR REPLACE TEMP TABLE dr_pair_elements AS
WITH pairs AS (
    SELECT DISTINCT period_index, actor AS agent, subject AS user_id
    FROM dr_calls
    WHERE NOT flag_run_as_user AND subject IS NOT NULL
),
shared AS (
    SELECT
        p.period_index,
        p.agent,
        p.user_id,
        a.window_name,
        a.element_id
    FROM pairs AS p
    JOIN dr_window_scope AS a
        ON a.period_index = p.period_index
        AND a.root_type = 'agent'
        AND a.root_id = p.agent
    JOIN dr_window_scope AS u
        ON u.period_index = p.period_index
        AND u.root_type = 'user'
        AND u.root_id = p.user_id
        AND u.window_name = a.window_name
        AND u.element_id = a.element_id
),
used AS (
    SELECT DISTINCT period_index, actor AS agent, subject AS user_id, element_id
    FROM dr_used
)
SELECT
    s.period_index,
    s.agent,
    s.user_id,
    s.element_id,
    bool_or(s.window_name = 'period') AS in_period,
    bool_or(s.window_name = 'before') AS before_period,
    bool_or(s.window_name = 'end') AS at_end,
    bool_or(u.element_id IS NOT NULL) AS used
FROM shared AS s
LEFT JOIN used AS u
    ON u.period_index = s.period_index
    AND u.agent = s.agent
    AND u.user_id = s.user_id
    AND u.element_id = s.element_id
GROUP BY s.period_index, s.agent, s.user_id, s.element_id;

-- Whether a user's own configured scope changed over the period (over the universe).
CREATE OR REPLACE TEMP TABLE dr_user_changes AS
SELECT
    period_index,
    root_id AS user_id,
    count(*) FILTER (WHERE held_before <> held_at_end) AS changed_permissions
FROM (
    SELECT
        period_index,
        root_id,
        element_id,
        bool_or(window_name = 'before') AS held_before,
        bool_or(window_name = 'end') AS held_at_end
    FROM dr_window_scope
    WHERE root_type = 'user' AND window_name IN ('before', 'end')
    GROUP BY ALL
)
GROUP BY ALL;
