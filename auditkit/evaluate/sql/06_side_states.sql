-- Entitlement coverage: the loaded coverage intervals, or else from the earliest grant
-- or membership onwards.
CREATE OR REPLACE TEMP TABLE ak_coverage AS
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
HAVING min(valid_from) IS NOT NULL;

CREATE OR REPLACE TEMP TABLE ak_calls AS
SELECT
    m.*,
    p.perm_id,
    EXISTS (
        SELECT 1 FROM ak_coverage AS v
        WHERE m.ts >= v.valid_from AND m.ts < v.valid_to
    ) AS covered,
    m.delegation_start IS NOT NULL
        AND m.delegation_start < m.ts
        AND EXISTS (
            SELECT 1 FROM ak_coverage AS v
            WHERE m.delegation_start >= v.valid_from AND m.delegation_start < v.valid_to
        ) AS start_usable
FROM ak_mapped AS m
LEFT JOIN ak_permissions AS p
    ON p.action = m.need_action AND p.resource = m.need_resource;

-- One probe per question asked of the entitlements: the user now, the user at the
-- delegation start, and the agent now.
CREATE OR REPLACE TEMP TABLE ak_probes AS
SELECT call_id, 'user_now' AS probe, 'user' AS principal_type, subject AS principal_id,
    perm_id, ts AS at
FROM ak_calls WHERE perm_id IS NOT NULL AND subject IS NOT NULL
UNION ALL
SELECT call_id, 'user_start', 'user', subject, perm_id, delegation_start
FROM ak_calls WHERE perm_id IS NOT NULL AND subject IS NOT NULL AND start_usable
UNION ALL
SELECT call_id, 'agent_now', 'agent', actor, perm_id, ts
FROM ak_calls WHERE perm_id IS NOT NULL AND NOT run_as_user;

CREATE OR REPLACE TEMP TABLE ak_probe_facts AS
SELECT
    b.call_id,
    b.probe,
    bool_or(f.effect = 'allow' AND NOT f.conditional) AS allow_firm,
    bool_or(f.effect = 'allow' AND f.conditional) AS allow_conditional,
    bool_or(f.effect = 'deny' AND NOT f.conditional) AS deny_firm,
    bool_or(f.effect = 'deny' AND f.conditional) AS deny_conditional,
    bool_or(f.effect = 'boundary' AND NOT f.conditional) AS boundary_firm,
    bool_or(f.effect = 'boundary' AND f.conditional) AS boundary_conditional,
    list_sort(list_distinct(flatten(list([f.grant_id] || f.link_ids)))) AS evidence
FROM ak_probes AS b
JOIN ak_facts AS f
    ON f.root_type = b.principal_type
    AND f.root_id = b.principal_id
    AND f.perm_id = b.perm_id
    AND b.at >= f.valid_from
    AND b.at < f.valid_to
GROUP BY b.call_id, b.probe;

-- A probe is bounded when some permission boundary reaches its principal at the probe
-- instant. An allow then counts only where a boundary matches too, as IAM intersects
-- an identity policy with its permissions boundary.
CREATE OR REPLACE TEMP TABLE ak_probe_grants AS
SELECT
    b.call_id,
    b.probe,
    b.principal_type,
    b.principal_id,
    b.at,
    coalesce(f.deny_firm, FALSE) AS deny_firm,
    coalesce(f.deny_conditional, FALSE) AS deny_conditional,
    coalesce(f.allow_firm OR f.allow_conditional, FALSE) AS allow_any,
    coalesce(f.allow_firm, FALSE) AND (
        NOT bounded OR coalesce(f.boundary_firm, FALSE)
    ) AS allow_firm_counted,
    coalesce(f.allow_firm OR f.allow_conditional, FALSE) AND (
        NOT bounded OR coalesce(f.boundary_firm OR f.boundary_conditional, FALSE)
    ) AS allow_any_counted,
    f.evidence
FROM (
    SELECT
        b.*,
        EXISTS (
            SELECT 1 FROM ak_bounds AS d
            WHERE d.root_type = b.principal_type
                AND d.root_id = b.principal_id
                AND b.at >= d.valid_from
                AND b.at < d.valid_to
        ) AS bounded
    FROM ak_probes AS b
) AS b
LEFT JOIN ak_probe_facts AS f ON f.call_id = b.call_id AND f.probe = b.probe;

CREATE OR REPLACE TEMP TABLE ak_probe_states AS
SELECT
    g.call_id,
    g.probe,
    CASE
        WHEN i.event_id IS NOT NULL THEN 'not_held'
        WHEN g.deny_firm THEN 'not_held'
        WHEN g.deny_conditional AND g.allow_any_counted THEN 'undecided'
        WHEN g.allow_firm_counted THEN 'held'
        WHEN g.allow_any_counted THEN 'undecided'
        ELSE 'not_held'
    END AS state,
    CASE
        WHEN i.event_id IS NOT NULL THEN 'principal_inactive'
        WHEN g.deny_firm THEN 'explicit_deny'
        WHEN g.deny_conditional AND g.allow_any_counted THEN 'unevaluated_condition'
        WHEN g.allow_firm_counted THEN 'permission_held'
        WHEN g.allow_any_counted THEN 'unevaluated_condition'
        WHEN g.allow_any THEN 'outside_boundary'
        ELSE 'no_matching_grant'
    END AS reason,
    array_to_string(
        list_sort(coalesce(g.evidence, []) || CASE
            WHEN i.event_id IS NULL THEN CAST([] AS VARCHAR[]) ELSE [i.event_id]
        END),
        ','
    ) AS evidence
FROM ak_probe_grants AS g
LEFT JOIN ak_inactive AS i
    ON i.principal_type = g.principal_type
    AND i.principal_id = g.principal_id
    AND g.at >= i.valid_from
    AND g.at < i.valid_to;

-- A call is bracketed when its instant is a boundary of something it needs (a matching
-- grant as it reaches the subject or the agent, any permission boundary reaching them,
-- or an inactive period of either), or lies strictly inside the window in which only
-- snapshots place the start or end of such a grant: (from_earliest, valid_from) or
-- (to_earliest, valid_to).
CREATE OR REPLACE TEMP TABLE ak_bracketed AS
SELECT DISTINCT b.call_id
FROM ak_probes AS b
JOIN ak_facts AS f
    ON f.root_type = b.principal_type
    AND f.root_id = b.principal_id
    AND f.perm_id = b.perm_id
    AND (
        f.valid_from = b.at
        OR f.valid_to = b.at
        OR (b.at > f.from_earliest AND b.at < f.valid_from)
        OR (b.at > f.to_earliest AND b.at < f.valid_to)
    )
WHERE b.probe IN ('user_now', 'agent_now')
UNION
SELECT b.call_id
FROM ak_probes AS b
JOIN ak_bounds AS d
    ON d.root_type = b.principal_type
    AND d.root_id = b.principal_id
    AND (
        d.valid_from = b.at
        OR d.valid_to = b.at
        OR (b.at > d.from_earliest AND b.at < d.valid_from)
        OR (b.at > d.to_earliest AND b.at < d.valid_to)
    )
WHERE b.probe IN ('user_now', 'agent_now')
UNION
SELECT b.call_id
FROM ak_probes AS b
JOIN ak_inactive AS i
    ON i.principal_type = b.principal_type
    AND i.principal_id = b.principal_id
    AND (i.valid_from = b.at OR i.valid_to = b.at)
WHERE b.probe IN ('user_now', 'agent_now');
