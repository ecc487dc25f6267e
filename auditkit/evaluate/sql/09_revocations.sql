-- The instants at which a user lost authority over a permission, and the grant,
-- membership or event behind each. A loss is the end of a matching unconditional allow
-- or boundary, the start of a matching unconditional deny or of any boundary, or the
-- start of an inactive period. Of several sources at one instant the lifecycle event
-- comes first, then the smallest id.
CREATE OR REPLACE TEMP TABLE ak_losses AS
WITH sources AS (
    SELECT pair_id, valid_to AS lost_at, unnest(to_ids) AS source
    FROM ak_items
    WHERE root_type = 'user' AND kind IN ('allow', 'boundary') AND NOT conditional
    UNION ALL
    SELECT pair_id, valid_from, unnest(from_ids)
    FROM ak_items
    WHERE root_type = 'user'
        AND ((kind = 'deny' AND NOT conditional) OR kind IN ('bound', 'inactive'))
)
SELECT
    pair_id,
    lost_at,
    source.kind AS kind,
    source.id AS source_id
FROM (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY pair_id, lost_at
            ORDER BY source.kind <> 'event', source.id
        ) AS rank_at_instant
    FROM sources
)
WHERE rank_at_instant = 1;

-- Each segment with the latest loss at or before its start. Every loss instant starts
-- a segment, so for a call in the segment this is the latest loss at or before the
-- call. The findings keep it when it lies after the delegation start.
CREATE OR REPLACE TEMP TABLE ak_segments AS
WITH latest AS (
    SELECT
        s.*,
        max(l.lost_at) OVER (
            PARTITION BY s.pair_id
            ORDER BY s.seg_from
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS revoked_at
    FROM ak_segment_states AS s
    LEFT JOIN ak_losses AS l ON l.pair_id = s.pair_id AND l.lost_at = s.seg_from
)
SELECT
    p.root_type,
    p.root_id,
    p.action,
    p.resource,
    t.*,
    l.kind AS revocation_kind,
    l.source_id AS revocation_source
FROM latest AS t
JOIN ak_pairs AS p ON p.pair_id = t.pair_id
LEFT JOIN ak_losses AS l ON l.pair_id = t.pair_id AND l.lost_at = t.revoked_at;
