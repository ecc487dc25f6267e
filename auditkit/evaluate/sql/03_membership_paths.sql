-- Transitive membership paths from each user and agent to the groups and roles it
-- belongs to, valid on the intersection of every link's interval. Open intervals end at
-- the sentinel 9999-12-31. from_ids / to_ids keep the links whose start or end is the
-- path's start or end, so a revocation can be traced to its source. from_earliest and
-- to_earliest are the earliest instants the path may have started or ended when only
-- snapshots bracket a link's change (each link's own earliest instant, else its exact
-- one): the latest of the links' earliest starts and the earliest of their earliest ends.
CREATE OR REPLACE TEMP TABLE ak_links AS
SELECT
    membership_id,
    member_type,
    member_id,
    parent_type,
    parent_id,
    valid_from,
    coalesce(valid_to, TIMESTAMP '9999-12-31') AS valid_to,
    coalesce(valid_from_earliest, valid_from) AS from_earliest,
    coalesce(valid_to_earliest, valid_to, TIMESTAMP '9999-12-31') AS to_earliest
FROM memberships
WHERE coalesce(valid_to, TIMESTAMP '9999-12-31') > valid_from;

CREATE OR REPLACE TEMP TABLE ak_paths AS
WITH RECURSIVE paths AS (
    SELECT
        member_type AS root_type,
        member_id AS root_id,
        parent_type,
        parent_id,
        valid_from,
        valid_to,
        from_earliest,
        to_earliest,
        [membership_id] AS link_ids,
        [{'kind': 'membership', 'id': membership_id}] AS from_ids,
        [{'kind': 'membership', 'id': membership_id}] AS to_ids,
        [member_type || ':' || member_id, parent_type || ':' || parent_id] AS visited
    FROM ak_links
    WHERE member_type IN ('user', 'agent')
    UNION ALL
    SELECT
        p.root_type,
        p.root_id,
        l.parent_type,
        l.parent_id,
        greatest(p.valid_from, l.valid_from),
        least(p.valid_to, l.valid_to),
        greatest(p.from_earliest, l.from_earliest),
        least(p.to_earliest, l.to_earliest),
        list_append(p.link_ids, l.membership_id),
        CASE
            WHEN l.valid_from > p.valid_from
                THEN [{'kind': 'membership', 'id': l.membership_id}]
            WHEN l.valid_from = p.valid_from
                THEN list_append(p.from_ids, {'kind': 'membership', 'id': l.membership_id})
            ELSE p.from_ids
        END,
        CASE
            WHEN l.valid_to < p.valid_to
                THEN [{'kind': 'membership', 'id': l.membership_id}]
            WHEN l.valid_to = p.valid_to
                THEN list_append(p.to_ids, {'kind': 'membership', 'id': l.membership_id})
            ELSE p.to_ids
        END,
        list_append(p.visited, l.parent_type || ':' || l.parent_id)
    FROM paths AS p
    JOIN ak_links AS l
        ON l.member_type = p.parent_type AND l.member_id = p.parent_id
    WHERE greatest(p.valid_from, l.valid_from) < least(p.valid_to, l.valid_to)
        AND NOT list_contains(p.visited, l.parent_type || ':' || l.parent_id)
)
SELECT * EXCLUDE (visited) FROM paths;
