-- Every grant as it reaches a user or an agent: directly, or through a membership path
-- (interval intersected with the path's), matched against the needed permissions.
-- Allows, denies and permission boundaries all reach principals the same way.

-- The LIKE pattern equivalent to a glob: LIKE's own wildcards and escape are escaped
-- first, then `*` becomes `%` and `?` becomes `_`.
CREATE OR REPLACE TEMP MACRO ak_like_pattern(pattern) AS
    replace(replace(replace(replace(replace(
        pattern, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_');

CREATE OR REPLACE TEMP TABLE ak_grant_intervals AS
SELECT
    grant_id,
    principal_type,
    principal_id,
    effect,
    action,
    resource,
    condition IS NOT NULL AS conditional,
    valid_from,
    coalesce(valid_to, TIMESTAMP '9999-12-31') AS valid_to,
    coalesce(valid_from_earliest, valid_from) AS from_earliest,
    coalesce(valid_to_earliest, valid_to, TIMESTAMP '9999-12-31') AS to_earliest,
    ak_like_pattern(action) AS action_like,
    ak_like_pattern(resource) AS resource_like,
    list_transform(
        coalesce(from_json(excluded_actions, '["VARCHAR"]'), CAST([] AS VARCHAR[])),
        lambda x: ak_like_pattern(x)
    ) AS excluded_action_likes,
    list_transform(
        coalesce(from_json(excluded_resources, '["VARCHAR"]'), CAST([] AS VARCHAR[])),
        lambda x: ak_like_pattern(x)
    ) AS excluded_resource_likes
FROM grants
WHERE coalesce(valid_to, TIMESTAMP '9999-12-31') > valid_from;

CREATE OR REPLACE TEMP TABLE ak_reach AS
SELECT
    g.principal_type AS root_type,
    g.principal_id AS root_id,
    g.grant_id,
    g.effect,
    g.conditional,
    g.action_like,
    g.resource_like,
    g.excluded_action_likes,
    g.excluded_resource_likes,
    g.valid_from,
    g.valid_to,
    g.from_earliest,
    g.to_earliest,
    CAST([] AS VARCHAR[]) AS link_ids,
    [{'kind': 'grant', 'id': g.grant_id}] AS from_ids,
    [{'kind': 'grant', 'id': g.grant_id}] AS to_ids
FROM ak_grant_intervals AS g
WHERE g.principal_type IN ('user', 'agent')
UNION ALL
SELECT
    p.root_type,
    p.root_id,
    g.grant_id,
    g.effect,
    g.conditional,
    g.action_like,
    g.resource_like,
    g.excluded_action_likes,
    g.excluded_resource_likes,
    greatest(p.valid_from, g.valid_from),
    least(p.valid_to, g.valid_to),
    greatest(p.from_earliest, g.from_earliest),
    least(p.to_earliest, g.to_earliest),
    p.link_ids,
    CASE
        WHEN g.valid_from > p.valid_from THEN [{'kind': 'grant', 'id': g.grant_id}]
        WHEN g.valid_from = p.valid_from
            THEN list_append(p.from_ids, {'kind': 'grant', 'id': g.grant_id})
        ELSE p.from_ids
    END,
    CASE
        WHEN g.valid_to < p.valid_to THEN [{'kind': 'grant', 'id': g.grant_id}]
        WHEN g.valid_to = p.valid_to
            THEN list_append(p.to_ids, {'kind': 'grant', 'id': g.grant_id})
        ELSE p.to_ids
    END
FROM ak_paths AS p
JOIN ak_grant_intervals AS g
    ON g.principal_type = p.parent_type AND g.principal_id = p.parent_id
WHERE greatest(p.valid_from, g.valid_from) < least(p.valid_to, g.valid_to);

-- Every permission boundary as it reaches a user or an agent, whatever it matches: a
-- principal that any boundary reaches at t is bounded at t.
CREATE OR REPLACE TEMP TABLE ak_bounds AS
SELECT root_type, root_id, grant_id, valid_from, valid_to, from_earliest, to_earliest,
    link_ids, from_ids, to_ids
FROM ak_reach
WHERE effect = 'boundary';

-- The (principal, permission) pairs the calls ask about: the subject and the agent of
-- each mapped call. Only these pairs are expanded, so the work grows with the calls
-- and not with every pair a wildcard could cover.
CREATE OR REPLACE TEMP TABLE ak_needed AS
SELECT DISTINCT 'user' AS root_type, m.subject AS root_id, p.perm_id
FROM ak_mapped AS m
JOIN ak_permissions AS p
    ON p.action = m.need_action AND p.resource = m.need_resource
WHERE m.subject IS NOT NULL
UNION
SELECT DISTINCT 'agent', m.actor, p.perm_id
FROM ak_mapped AS m
JOIN ak_permissions AS p
    ON p.action = m.need_action AND p.resource = m.need_resource
WHERE NOT m.run_as_user;

-- Patterns are matched once per distinct pattern and distinct value. A pattern matches
-- an action case-insensitively unless the action's namespace is case-sensitive.
CREATE OR REPLACE TEMP TABLE ak_action_matches AS
SELECT DISTINCT r.action_like, a.action
FROM (SELECT DISTINCT action_like FROM ak_reach) AS r
JOIN (SELECT DISTINCT action, case_sensitive FROM ak_permissions) AS a
    ON CASE
        WHEN a.case_sensitive THEN a.action LIKE r.action_like ESCAPE '\'
        ELSE lower(a.action) LIKE lower(r.action_like) ESCAPE '\'
    END;

CREATE OR REPLACE TEMP TABLE ak_resource_matches AS
SELECT DISTINCT r.resource_like, p.resource
FROM (SELECT DISTINCT resource_like FROM ak_reach) AS r
JOIN (SELECT DISTINCT resource FROM ak_permissions) AS p
    ON p.resource LIKE r.resource_like ESCAPE '\';

-- Every reached grant paired with each needed permission of its principal that it
-- matches, so the per-call lookups are plain equality and range joins. An excluded
-- pattern (IAM NotAction, NotResource) that matches takes the permission out of the
-- grant.
CREATE OR REPLACE TEMP TABLE ak_facts AS
WITH reach_actions AS (
    SELECT r.*, am.action AS matched_action
    FROM ak_reach AS r
    JOIN ak_action_matches AS am ON am.action_like = r.action_like
    WHERE EXISTS (
        SELECT 1 FROM ak_needed AS n
        WHERE n.root_type = r.root_type AND n.root_id = r.root_id
    )
),
needed_permissions AS (
    SELECT n.root_type, n.root_id, p.perm_id, p.action, p.resource, p.case_sensitive
    FROM ak_needed AS n
    JOIN ak_permissions AS p ON p.perm_id = n.perm_id
)
SELECT
    r.root_type,
    r.root_id,
    p.perm_id,
    r.grant_id,
    r.effect,
    r.conditional,
    r.valid_from,
    r.valid_to,
    r.from_earliest,
    r.to_earliest,
    r.link_ids,
    r.from_ids,
    r.to_ids
FROM reach_actions AS r
JOIN needed_permissions AS p
    ON p.root_type = r.root_type
    AND p.root_id = r.root_id
    AND p.action = r.matched_action
JOIN ak_resource_matches AS rm
    ON rm.resource_like = r.resource_like AND rm.resource = p.resource
WHERE NOT coalesce(list_bool_or(list_transform(
        r.excluded_action_likes,
        lambda x: CASE
            WHEN p.case_sensitive THEN p.action LIKE x ESCAPE '\'
            ELSE lower(p.action) LIKE lower(x) ESCAPE '\'
        END
    )), FALSE)
    AND NOT coalesce(list_bool_or(list_transform(
        r.excluded_resource_likes, lambda x: p.resource LIKE x ESCAPE '\'
    )), FALSE);
