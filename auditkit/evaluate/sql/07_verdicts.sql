-- Side results and the primary verdict of every call.
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
    us.evidence AS user_start_evidence,
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
