-- Side results, primary verdict, flags, severity and certainty of every call.
CREATE OR REPLACE TEMP TABLE ak_sides AS
SELECT
    c.*,
    CASE
        WHEN NOT c.mapped THEN 'unmapped_tool'
        WHEN c.missing_argument THEN 'missing_argument'
        WHEN NOT c.covered THEN 'no_entitlement_coverage'
    END AS blocking_reason,
    un.state AS user_now_state,
    un.reason AS user_now_reason,
    un.evidence AS user_now_evidence,
    us.state AS user_start_state,
    an.state AS agent_now_state,
    an.reason AS agent_now_reason,
    an.evidence AS agent_now_evidence,
    br.call_id IS NOT NULL AS at_change
FROM ak_calls AS c
LEFT JOIN ak_probe_states AS un ON un.call_id = c.call_id AND un.probe = 'user_now'
LEFT JOIN ak_probe_states AS us ON us.call_id = c.call_id AND us.probe = 'user_start'
LEFT JOIN ak_probe_states AS an ON an.call_id = c.call_id AND an.probe = 'agent_now'
LEFT JOIN ak_bracketed AS br ON br.call_id = c.call_id;

CREATE OR REPLACE TEMP TABLE ak_results AS
SELECT
    s.*,
    CASE
        WHEN s.blocking_reason IS NOT NULL THEN 'undecided'
        WHEN s.subject IS NULL THEN 'undecided'
        WHEN s.user_now_state = 'not_held' AND s.user_start_state = 'held' THEN 'stale'
        ELSE s.user_now_state
    END AS user_result,
    CASE
        WHEN s.blocking_reason IS NOT NULL THEN s.blocking_reason
        WHEN s.subject IS NULL THEN 'no_subject'
        ELSE s.user_now_reason
    END AS user_reason,
    CASE
        WHEN s.run_as_user THEN 'run_as_user'
        WHEN s.blocking_reason IS NOT NULL THEN 'undecided'
        ELSE s.agent_now_state
    END AS agent_result,
    CASE
        WHEN s.run_as_user THEN NULL
        WHEN s.blocking_reason IS NOT NULL THEN s.blocking_reason
        ELSE s.agent_now_reason
    END AS agent_reason,
    s.token_id IN (
        SELECT token_id
        FROM ak_calls
        WHERE token_id IS NOT NULL AND effective_server IS NOT NULL
        GROUP BY token_id
        HAVING count(DISTINCT effective_server) >= 2
    ) AS forwarded
FROM ak_sides AS s;

CREATE OR REPLACE TEMP TABLE ak_verdicts AS
SELECT
    r.*,
    CASE
        WHEN r.user_result = 'stale' THEN 'stale_authority'
        WHEN r.user_result = 'not_held' THEN 'user_over_scope'
        WHEN r.agent_result = 'not_held' THEN 'agent_over_scope'
        WHEN r.user_result = 'undecided' OR r.agent_result = 'undecided'
            THEN 'indeterminate'
        ELSE 'within_scope'
    END AS verdict
FROM ak_results AS r;

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
    f.source_file,
    f.source_line
FROM flagged AS f
ORDER BY f.ts, f.call_id;
