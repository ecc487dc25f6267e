-- For each stale call, the latest instant in (delegation start, call] at which the user
-- lost the permission, and the grant, membership or event behind it: the end of a
-- matching unconditional allow or boundary, the start of a matching unconditional deny
-- or of any boundary, or the start of an inactive period.
CREATE OR REPLACE TEMP TABLE ak_losses AS
SELECT c.call_id, f.valid_to AS lost_at, unnest(f.to_ids) AS source
FROM ak_verdicts AS c
JOIN ak_calls AS k ON k.call_id = c.call_id
JOIN ak_facts AS f
    ON f.root_type = 'user' AND f.root_id = k.subject AND f.perm_id = k.perm_id
WHERE c.verdict = 'stale_authority'
    AND f.effect IN ('allow', 'boundary') AND NOT f.conditional
    AND f.valid_to > k.delegation_start AND f.valid_to <= k.ts
UNION ALL
SELECT c.call_id, f.valid_from, unnest(f.from_ids)
FROM ak_verdicts AS c
JOIN ak_calls AS k ON k.call_id = c.call_id
JOIN ak_facts AS f
    ON f.root_type = 'user' AND f.root_id = k.subject AND f.perm_id = k.perm_id
WHERE c.verdict = 'stale_authority'
    AND f.effect = 'deny' AND NOT f.conditional
    AND f.valid_from > k.delegation_start AND f.valid_from <= k.ts
UNION ALL
SELECT c.call_id, d.valid_from, unnest(d.from_ids)
FROM ak_verdicts AS c
JOIN ak_calls AS k ON k.call_id = c.call_id
JOIN ak_bounds AS d ON d.root_type = 'user' AND d.root_id = k.subject
WHERE c.verdict = 'stale_authority'
    AND d.valid_from > k.delegation_start AND d.valid_from <= k.ts
UNION ALL
SELECT c.call_id, i.valid_from, {'kind': 'event', 'id': i.event_id}
FROM ak_verdicts AS c
JOIN ak_calls AS k ON k.call_id = c.call_id
JOIN ak_inactive AS i ON i.principal_type = 'user' AND i.principal_id = k.subject
WHERE c.verdict = 'stale_authority'
    AND i.valid_from > k.delegation_start AND i.valid_from <= k.ts;

CREATE OR REPLACE TEMP TABLE ak_revocations AS
SELECT call_id, lost_at AS revoked_at, source.kind AS kind, source.id AS source_id
FROM (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY call_id
            ORDER BY lost_at DESC, source.kind <> 'event', source.id
        ) AS rank_in_call
    FROM ak_losses
)
WHERE rank_in_call = 1;
