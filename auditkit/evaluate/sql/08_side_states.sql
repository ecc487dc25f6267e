-- The state of every needed (principal, permission) pair over time, as segments in
-- which nothing it depends on changes, so that each state a call needs is one lookup.

-- Action patterns are matched once per distinct pattern and distinct action. A pattern
-- matches an action case-insensitively unless the action's namespace is case-sensitive.
CREATE OR REPLACE TEMP TABLE ak_action_matches AS
SELECT DISTINCT r.action_like, a.action
FROM (SELECT DISTINCT action_like FROM ak_reach) AS r
JOIN ak_actions AS a
    ON CASE
        WHEN a.case_sensitive THEN a.action LIKE r.action_like ESCAPE '\'
        ELSE lower(a.action) LIKE lower(r.action_like) ESCAPE '\'
    END;

-- Each reached grant with every needed action its action pattern matches.
CREATE OR REPLACE TEMP TABLE ak_reach_actions AS
SELECT r.*, am.action AS matched_action
FROM ak_reach AS r
JOIN ak_action_matches AS am ON am.action_like = r.action_like;

-- The (principal, permission) pairs the calls ask about, the subject and the agent of
-- each call that needs a permission, kept only where something could decide them: a
-- grant whose action pattern matches, a boundary or an inactive period. Only these
-- pairs are expanded, so the work grows with the calls and not with every pair a
-- wildcard could cover. A pair left out has no permission, and nothing changes for it.
CREATE OR REPLACE TEMP TABLE ak_needed AS
SELECT DISTINCT root_type, root_id, action, resource
FROM (
    SELECT
        'user' AS root_type,
        subject AS root_id,
        need_action AS action,
        need_resource AS resource
    FROM ak_calls
    WHERE need_action IS NOT NULL AND need_resource IS NOT NULL AND subject IS NOT NULL
    UNION ALL
    SELECT 'agent', actor, need_action, need_resource
    FROM ak_calls
    WHERE need_action IS NOT NULL AND need_resource IS NOT NULL AND NOT run_as_user
) AS asked
WHERE EXISTS (
        SELECT 1 FROM ak_reach_actions AS r
        WHERE r.root_type = asked.root_type
            AND r.root_id = asked.root_id
            AND r.matched_action = asked.action
    )
    OR EXISTS (
        SELECT 1 FROM ak_bounds AS d
        WHERE d.root_type = asked.root_type AND d.root_id = asked.root_id
    )
    OR EXISTS (
        SELECT 1 FROM ak_inactive AS i
        WHERE i.principal_type = asked.root_type AND i.principal_id = asked.root_id
    );

-- Every reached grant paired with each needed permission of its principal that it
-- matches. Resource patterns are tested only on the pairs whose action matched, which
-- are far fewer than all distinct resources times all patterns. An excluded pattern
-- (IAM NotAction, NotResource) that matches takes the permission out of the grant.
CREATE OR REPLACE TEMP TABLE ak_facts AS
SELECT
    n.root_type,
    n.root_id,
    n.action,
    n.resource,
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
FROM ak_reach_actions AS r
JOIN ak_needed AS n
    ON n.root_type = r.root_type
    AND n.root_id = r.root_id
    AND n.action = r.matched_action
JOIN ak_actions AS a ON a.action = n.action
WHERE n.resource LIKE r.resource_like ESCAPE '\'
    AND NOT coalesce(list_bool_or(list_transform(
        r.excluded_action_likes,
        lambda x: CASE
            WHEN a.case_sensitive THEN n.action LIKE x ESCAPE '\'
            ELSE lower(n.action) LIKE lower(x) ESCAPE '\'
        END
    )), FALSE)
    AND NOT coalesce(list_bool_or(list_transform(
        r.excluded_resource_likes, lambda x: n.resource LIKE x ESCAPE '\'
    )), FALSE);

-- Everything a pair's state depends on, as intervals: its facts (kind allow, deny or
-- boundary), every permission boundary reaching the principal whatever it matches
-- (kind bound: the principal is bounded while one holds) and the principal's inactive
-- periods (kind inactive). Only facts are evidence. from_ids and to_ids name the
-- grants, memberships or event behind an item's start and end.
CREATE OR REPLACE TEMP TABLE ak_pair_items AS
SELECT
    root_type,
    root_id,
    action,
    resource,
    effect AS kind,
    conditional,
    grant_id AS item_id,
    [grant_id] || link_ids AS evidence_ids,
    valid_from,
    valid_to,
    from_earliest,
    to_earliest,
    from_ids,
    to_ids
FROM ak_facts
UNION ALL
SELECT
    n.root_type,
    n.root_id,
    n.action,
    n.resource,
    'bound',
    FALSE,
    d.grant_id,
    CAST([] AS VARCHAR[]),
    d.valid_from,
    d.valid_to,
    d.from_earliest,
    d.to_earliest,
    d.from_ids,
    d.to_ids
FROM ak_needed AS n
JOIN ak_bounds AS d ON d.root_type = n.root_type AND d.root_id = n.root_id
UNION ALL
SELECT
    n.root_type,
    n.root_id,
    n.action,
    n.resource,
    'inactive',
    FALSE,
    i.event_id,
    CAST([] AS VARCHAR[]),
    i.valid_from,
    i.valid_to,
    i.valid_from,
    i.valid_to,
    [{'kind': 'event', 'id': i.event_id}],
    [{'kind': 'event', 'id': i.event_id}]
FROM ak_needed AS n
JOIN ak_inactive AS i
    ON i.principal_type = n.root_type AND i.principal_id = n.root_id;

-- The pairs that have items, numbered so that the segment steps group and join on one
-- integer, and their items with that number.
CREATE OR REPLACE TEMP TABLE ak_pairs AS
SELECT
    root_type,
    root_id,
    action,
    resource,
    row_number() OVER (ORDER BY root_type, root_id, action, resource) AS pair_id
FROM (SELECT DISTINCT root_type, root_id, action, resource FROM ak_pair_items);

CREATE OR REPLACE TEMP TABLE ak_items AS
SELECT p.pair_id, i.*
FROM ak_pair_items AS i
JOIN ak_pairs AS p
    ON p.root_type = i.root_type
    AND p.root_id = i.root_id
    AND p.action = i.action
    AND p.resource = i.resource;

-- The instants at which some item of a pair starts or ends, or a snapshot window
-- (from_earliest, valid_from) or (to_earliest, valid_to) opens, cut the pair's time
-- into segments [seg_from, seg_to). The last segment has no end. Because no such
-- instant lies inside a segment, at any instant t of a segment:
--   an item holds at t exactly when it holds at seg_from;
--   t is an item's start or end only when t = seg_from;
--   t lies strictly inside a window when t = seg_from and seg_from does, or when
--   t > seg_from and the whole segment lies inside the window.
-- A pair without items has no segment: it holds nothing, and nothing changes.
CREATE OR REPLACE TEMP TABLE ak_segment_states AS
WITH instants AS (
    SELECT DISTINCT pair_id, instant
    FROM (
        SELECT pair_id, valid_from AS instant FROM ak_items
        UNION ALL
        SELECT pair_id, valid_to FROM ak_items
        UNION ALL
        SELECT pair_id, from_earliest FROM ak_items WHERE from_earliest < valid_from
        UNION ALL
        SELECT pair_id, to_earliest FROM ak_items WHERE to_earliest < valid_to
    )
),
spans AS (
    SELECT
        pair_id,
        instant AS seg_from,
        lead(instant) OVER (PARTITION BY pair_id ORDER BY instant) AS seg_to
    FROM instants
),
held AS (
    SELECT
        s.pair_id,
        s.seg_from,
        s.seg_to,
        i.kind,
        i.conditional,
        i.item_id,
        i.evidence_ids,
        i.valid_from <= s.seg_from AND s.seg_from < i.valid_to AS holds,
        i.valid_from = s.seg_from OR i.valid_to = s.seg_from AS changes,
        (s.seg_from > i.from_earliest AND s.seg_from < i.valid_from)
            OR (s.seg_from > i.to_earliest AND s.seg_from < i.valid_to)
            AS starts_in_window,
        (i.from_earliest <= s.seg_from AND s.seg_to <= i.valid_from)
            OR (i.to_earliest <= s.seg_from AND s.seg_to <= i.valid_to)
            AS inside_window
    FROM spans AS s
    JOIN ak_items AS i ON i.pair_id = s.pair_id
),
flags AS (
    SELECT
        pair_id,
        seg_from,
        seg_to,
        max(CASE WHEN holds AND kind = 'inactive' THEN item_id END) AS inactive_event,
        bool_or(holds AND kind = 'bound') AS bounded,
        bool_or(holds AND kind = 'allow' AND NOT conditional) AS allow_firm,
        bool_or(holds AND kind = 'allow' AND conditional) AS allow_conditional,
        bool_or(holds AND kind = 'deny' AND NOT conditional) AS deny_firm,
        bool_or(holds AND kind = 'deny' AND conditional) AS deny_conditional,
        bool_or(holds AND kind = 'boundary' AND NOT conditional) AS boundary_firm,
        bool_or(holds AND kind = 'boundary' AND conditional) AS boundary_conditional,
        list(evidence_ids) FILTER (
            WHERE holds AND kind IN ('allow', 'deny', 'boundary')
        ) AS evidence_lists,
        bool_or(changes OR starts_in_window) AS bracketed_at_start,
        coalesce(bool_or(inside_window), FALSE) AS bracketed_inside
    FROM held
    GROUP BY pair_id, seg_from, seg_to
),
counted AS (
    -- A bounded principal's allow counts only where a boundary matches too, as IAM
    -- intersects an identity policy with its permissions boundary.
    SELECT
        *,
        allow_firm AND (NOT bounded OR boundary_firm) AS allow_firm_counted,
        (allow_firm OR allow_conditional)
            AND (NOT bounded OR boundary_firm OR boundary_conditional)
            AS allow_any_counted
    FROM flags
)
SELECT
    pair_id,
    seg_from,
    seg_to,
    CASE
        WHEN inactive_event IS NOT NULL THEN 'not_held'
        WHEN deny_firm THEN 'not_held'
        WHEN deny_conditional AND allow_any_counted THEN 'undecided'
        WHEN allow_firm_counted THEN 'held'
        WHEN allow_any_counted THEN 'undecided'
        ELSE 'not_held'
    END AS state,
    CASE
        WHEN inactive_event IS NOT NULL THEN 'principal_inactive'
        WHEN deny_firm THEN 'explicit_deny'
        WHEN deny_conditional AND allow_any_counted THEN 'unevaluated_condition'
        WHEN allow_firm_counted THEN 'permission_held'
        WHEN allow_any_counted THEN 'unevaluated_condition'
        WHEN allow_firm OR allow_conditional THEN 'outside_boundary'
        ELSE 'no_matching_grant'
    END AS reason,
    array_to_string(
        list_sort(
            coalesce(list_distinct(flatten(evidence_lists)), CAST([] AS VARCHAR[]))
            || CASE
                WHEN inactive_event IS NULL THEN CAST([] AS VARCHAR[])
                ELSE [inactive_event]
            END
        ),
        ','
    ) AS evidence,
    bracketed_at_start,
    bracketed_inside
FROM counted;
