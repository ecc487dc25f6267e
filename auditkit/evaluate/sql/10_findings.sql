-- Side results, the primary verdict, flags, severity and certainty of every call, one
-- row per call in a fixed column order. The rows are in no particular order, because
-- every reader sorts what it shows or writes.

-- Tokens used on calls to two or more distinct resource servers.
CREATE OR REPLACE TEMP TABLE ak_forwarded_tokens AS
SELECT token_id
FROM ak_calls
WHERE token_id IS NOT NULL AND effective_server IS NOT NULL
GROUP BY token_id
HAVING count(DISTINCT effective_server) >= 2;

-- Each call reads up to three states from the segments: the user's now, the user's at
-- the delegation start, and the agent's now. A lookup whose pair has no segment at that
-- instant finds no permission and no change.
CREATE OR REPLACE TABLE findings AS
WITH probes AS (
    SELECT
        c.*,
        c.need_action IS NOT NULL AND c.need_resource IS NOT NULL
            AND c.subject IS NOT NULL AS asks_user,
        c.need_action IS NOT NULL AND c.need_resource IS NOT NULL
            AND c.subject IS NOT NULL AND c.start_usable AS asks_user_start,
        c.need_action IS NOT NULL AND c.need_resource IS NOT NULL
            AND NOT c.run_as_user AS asks_agent
    FROM ak_calls AS c
),
looked_up AS (
    SELECT
        c.*,
        CASE WHEN c.asks_user THEN coalesce(un.state, 'not_held') END
            AS user_now_state,
        CASE WHEN c.asks_user THEN coalesce(un.reason, 'no_matching_grant') END
            AS user_now_reason,
        CASE WHEN c.asks_user THEN coalesce(un.evidence, '') END AS user_now_evidence,
        CASE WHEN c.asks_user_start THEN coalesce(us.state, 'not_held') END
            AS user_start_state,
        CASE WHEN c.asks_user_start THEN coalesce(us.evidence, '') END
            AS user_start_evidence,
        CASE WHEN c.asks_agent THEN coalesce(an.state, 'not_held') END
            AS agent_now_state,
        CASE WHEN c.asks_agent THEN coalesce(an.reason, 'no_matching_grant') END
            AS agent_now_reason,
        CASE WHEN c.asks_agent THEN coalesce(an.evidence, '') END AS agent_now_evidence,
        coalesce(
            c.ts = un.seg_from AND un.bracketed_at_start
            OR c.ts > un.seg_from AND un.bracketed_inside,
            FALSE
        ) OR coalesce(
            c.ts = an.seg_from AND an.bracketed_at_start
            OR c.ts > an.seg_from AND an.bracketed_inside,
            FALSE
        ) AS at_change,
        un.revoked_at AS user_revoked_at,
        un.revocation_kind AS user_revocation_kind,
        un.revocation_source AS user_revocation_source,
        fw.token_id IS NOT NULL AS forwarded
    FROM probes AS c
    LEFT JOIN ak_segments AS un
        ON c.asks_user
        AND un.root_type = 'user'
        AND un.root_id = c.subject
        AND un.action = c.need_action
        AND un.resource = c.need_resource
        AND c.ts >= un.seg_from
        AND (un.seg_to IS NULL OR c.ts < un.seg_to)
    LEFT JOIN ak_segments AS us
        ON c.asks_user_start
        AND us.root_type = 'user'
        AND us.root_id = c.subject
        AND us.action = c.need_action
        AND us.resource = c.need_resource
        AND c.delegation_start >= us.seg_from
        AND (us.seg_to IS NULL OR c.delegation_start < us.seg_to)
    LEFT JOIN ak_segments AS an
        ON c.asks_agent
        AND an.root_type = 'agent'
        AND an.root_id = c.actor
        AND an.action = c.need_action
        AND an.resource = c.need_resource
        AND c.ts >= an.seg_from
        AND (an.seg_to IS NULL OR c.ts < an.seg_to)
    LEFT JOIN ak_forwarded_tokens AS fw ON fw.token_id = c.token_id
),
sides AS (
    SELECT
        s.*,
        CASE
            WHEN NOT s.mapped THEN 'unmapped_tool'
            WHEN s.missing_argument THEN 'missing_argument'
            WHEN NOT s.covered THEN 'no_entitlement_coverage'
        END AS blocking_reason
    FROM looked_up AS s
),
results AS (
    SELECT
        s.*,
        CASE
            WHEN s.blocking_reason IS NOT NULL THEN 'undecided'
            WHEN s.subject IS NULL THEN 'undecided'
            WHEN s.user_now_state = 'not_held' AND s.user_start_state = 'held'
                THEN 'stale'
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
        END AS agent_reason
    FROM sides AS s
),
verdicts AS (
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
    FROM results AS r
),
flagged AS (
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
        END - CASE WHEN v.outcome = 'denied' THEN 1 ELSE 0 END AS violation_rank,
        v.verdict = 'stale_authority' AND v.user_revoked_at > v.delegation_start
            AS revoked_after_start
    FROM verdicts AS v
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
    CASE WHEN f.revoked_after_start THEN f.user_revoked_at END AS revoked_at,
    CASE WHEN f.revoked_after_start THEN f.user_revocation_source END AS revocation_source,
    CASE WHEN f.revoked_after_start THEN f.user_revocation_kind END AS revocation_kind,
    f.source_file,
    f.source_line
FROM flagged AS f;
