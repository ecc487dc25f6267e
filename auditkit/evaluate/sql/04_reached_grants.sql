-- Every grant as it reaches a user or an agent: directly, or through a membership path
-- (interval intersected with the path's), matched against the needed permissions.
-- Allows, denies and permission boundaries all reach principals the same way.
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
    -- LIKE patterns equivalent to the globs: escape LIKE's own wildcards first.
    replace(replace(replace(replace(replace(
        action, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') AS action_like,
    replace(replace(replace(replace(replace(
        resource, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') AS resource_like,
    list_transform(
        coalesce(from_json(excluded_actions, '["VARCHAR"]'), CAST([] AS VARCHAR[])),
        lambda x: replace(replace(replace(replace(replace(
            x, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_')
    ) AS excluded_action_likes,
    list_transform(
        coalesce(from_json(excluded_resources, '["VARCHAR"]'), CAST([] AS VARCHAR[])),
        lambda x: replace(replace(replace(replace(replace(
            x, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_')
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

-- Expand over the needed permissions once, so the per-call lookups are plain equality
-- and range joins. A pattern matches an action case-insensitively unless the action's
-- namespace is case-sensitive; an excluded pattern (IAM NotAction, NotResource) that
-- matches takes the permission out of the grant.
CREATE OR REPLACE TEMP TABLE ak_facts AS
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
FROM ak_reach AS r
JOIN ak_permissions AS p
    ON CASE
        WHEN p.case_sensitive THEN p.action LIKE r.action_like ESCAPE '\'
        ELSE lower(p.action) LIKE lower(r.action_like) ESCAPE '\'
    END
    AND p.resource LIKE r.resource_like ESCAPE '\'
    AND NOT coalesce(list_bool_or(list_transform(
        r.excluded_action_likes,
        lambda x: CASE
            WHEN p.case_sensitive THEN p.action LIKE x ESCAPE '\'
            ELSE lower(p.action) LIKE lower(x) ESCAPE '\'
        END
    )), FALSE)
    AND NOT coalesce(list_bool_or(list_transform(
        r.excluded_resource_likes, lambda x: p.resource LIKE x ESCAPE '\'
    )), FALSE);
