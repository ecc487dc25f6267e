-- Every grant as it reaches a user or an agent: directly, or through a membership path
-- (interval intersected with the path's), matched against the needed permissions.
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
    -- LIKE patterns equivalent to the globs: escape LIKE's own wildcards first.
    replace(replace(replace(replace(replace(
        action, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') AS action_like,
    replace(replace(replace(replace(replace(
        resource, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') AS resource_like
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
    g.valid_from,
    g.valid_to,
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
    greatest(p.valid_from, g.valid_from),
    least(p.valid_to, g.valid_to),
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

-- Expand over the needed permissions once, so the per-call lookups are plain equality
-- and range joins.
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
    r.link_ids,
    r.from_ids,
    r.to_ids
FROM ak_reach AS r
JOIN ak_permissions AS p
    ON CASE
        WHEN p.case_sensitive THEN p.action LIKE r.action_like ESCAPE '\'
        ELSE lower(p.action) LIKE lower(r.action_like) ESCAPE '\'
    END
    AND p.resource LIKE r.resource_like ESCAPE '\';
