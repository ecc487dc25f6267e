-- Every grant as it reaches a user or an agent: directly, or through a membership path
-- (interval intersected with the path's). Allows, denies and permission boundaries all
-- reach principals the same way. Nothing here reads the calls, so the analysis
-- package runs this step on its own.

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
