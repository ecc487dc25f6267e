-- The (principal, permission) pairs the calls ask about: the subject and the agent of
-- each call that needs a permission. Only these pairs are expanded, so the work grows
-- with the calls and not with every pair a wildcard could cover.
CREATE OR REPLACE TEMP TABLE ak_needed AS
SELECT DISTINCT
    'user' AS root_type,
    subject AS root_id,
    need_action AS action,
    need_resource AS resource
FROM ak_calls
WHERE need_action IS NOT NULL AND need_resource IS NOT NULL AND subject IS NOT NULL
UNION ALL
SELECT DISTINCT 'agent', actor, need_action, need_resource
FROM ak_calls
WHERE need_action IS NOT NULL AND need_resource IS NOT NULL AND NOT run_as_user;

-- Distinct actions the calls need. An action compares case-insensitively
-- unless its namespace (text before the first ':') is listed as case-sensitive.
CREATE OR REPLACE TEMP TABLE ak_actions AS
SELECT
    action,
    list_contains($case_sensitive_namespaces, split_part(action, ':', 1))
        AS case_sensitive
FROM (SELECT DISTINCT action FROM ak_needed);
