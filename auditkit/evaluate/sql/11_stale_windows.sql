-- One window per user, agent and revocation instant.
CREATE OR REPLACE TABLE stale_windows AS
SELECT
    substr(
        sha256(concat_ws(
            '|', f.subject, coalesce(f.actor, ''), CAST(f.revoked_at AS VARCHAR)
        )),
        1,
        16
    ) AS window_id,
    f.subject,
    f.actor,
    f.revoked_at,
    arg_min(f.revocation_source, (f.revocation_kind <> 'event', f.revocation_source))
        AS revocation_source,
    arg_min(f.revocation_kind, (f.revocation_kind <> 'event', f.revocation_source))
        AS revocation_kind,
    arg_min(f.call_id, (f.ts, f.call_id)) AS first_call_id,
    arg_max(f.call_id, (f.ts, f.call_id)) AS last_call_id,
    min(f.ts) AS first_call_at,
    max(f.ts) AS last_call_at,
    count(*) AS calls,
    array_to_string(list_sort(list_distinct(list(f.resource))), ',') AS resources,
    epoch(max(f.ts) - f.revoked_at) AS duration_seconds
FROM findings AS f
WHERE f.verdict = 'stale_authority'
GROUP BY f.subject, f.actor, f.revoked_at
ORDER BY f.revoked_at, f.subject, f.actor;
