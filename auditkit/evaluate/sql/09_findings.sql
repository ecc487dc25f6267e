-- Flags, severity and certainty; one row per call, in a fixed column order.
CREATE OR REPLACE TABLE findings AS
WITH flagged AS (
    SELECT
        v.*,
        v.run_as_user AS flag_run_as_user,
        coalesce(v.ts >= v.token_expires_at, FALSE) AS flag_token_expired,
        coalesce(v.audience <> v.effective_server, FALSE) AS flag_audience_mismatch,
        coalesce(v.forwarded, FALSE) AS flag_token_forwarded,
        v.verdict IN ('stale_authority', 'user_over_scope', 'agent_over_scope')
            AND coalesce(v.outcome = 'allowed', FALSE) AS flag_enforcement_gap,
        CASE coalesce(v.risk_tier, 'write')
            WHEN 'read' THEN 2
            WHEN 'delete' THEN 4
            WHEN 'admin' THEN 4
            ELSE 3
        END - CASE WHEN v.outcome = 'denied' THEN 1 ELSE 0 END AS violation_rank
    FROM ak_verdicts AS v
)
SELECT
    substr(sha256('call:' || f.call_id), 1, 16) AS finding_id,
    f.call_id,
    f.ts,
    f.subject,
    f.actor,
    f.actor_chain,
    f.tool,
    f.need_action AS action,
    f.need_resource AS resource,
    f.risk_tier,
    f.effective_server AS resource_server,
    f.audience,
    f.token_id,
    f.session_id,
    f.outcome,
    f.delegation_start,
    f.verdict,
    CASE f.verdict
        WHEN 'stale_authority' THEN f.user_reason
        WHEN 'user_over_scope' THEN f.user_reason
        WHEN 'agent_over_scope' THEN f.agent_reason
        WHEN 'indeterminate' THEN CASE
            WHEN f.user_result = 'undecided' THEN f.user_reason
            ELSE f.agent_reason
        END
        ELSE 'permission_held'
    END AS reason,
    f.user_result,
    f.user_reason,
    f.agent_result,
    f.agent_reason,
    CASE
        WHEN f.verdict = 'indeterminate' THEN 'indeterminate'
        WHEN f.at_change THEN 'bracketed'
        ELSE 'exact'
    END AS certainty,
    CASE
        WHEN f.verdict = 'indeterminate' THEN 'low'
        WHEN f.verdict = 'within_scope' THEN CASE
            WHEN f.flag_token_expired OR f.flag_audience_mismatch
                OR f.flag_token_forwarded THEN 'low'
            ELSE 'info'
        END
        ELSE ['info', 'low', 'medium', 'high', 'critical'][f.violation_rank + 1]
    END AS severity,
    concat_ws(
        ',',
        CASE WHEN f.flag_run_as_user THEN 'run_as_user' END,
        CASE WHEN f.flag_token_expired THEN 'token_expired' END,
        CASE WHEN f.flag_audience_mismatch THEN 'audience_mismatch' END,
        CASE WHEN f.flag_token_forwarded THEN 'token_forwarded' END,
        CASE WHEN f.flag_enforcement_gap THEN 'enforcement_gap' END
    ) AS flags,
    f.flag_run_as_user,
    f.flag_token_expired,
    f.flag_audience_mismatch,
    f.flag_token_forwarded,
    f.flag_enforcement_gap,
    coalesce(f.user_now_evidence, '') AS user_evidence,
    coalesce(f.agent_now_evidence, '') AS agent_evidence,
    coalesce(f.user_start_evidence, '') AS user_start_evidence,
    r.revoked_at,
    r.source_id AS revocation_source,
    r.kind AS revocation_kind,
    f.source_file,
    f.source_line
FROM flagged AS f
LEFT JOIN ak_revocations AS r ON r.call_id = f.call_id
ORDER BY f.ts, f.call_id;
