-- Distinct actions the calls need. An action compares case-insensitively unless its
-- namespace (text before the first ':') is listed as case-sensitive.
CREATE OR REPLACE TEMP TABLE ak_actions AS
SELECT
    action,
    list_contains($case_sensitive_namespaces, split_part(action, ':', 1))
        AS case_sensitive
FROM (
    SELECT DISTINCT need_action AS action
    FROM ak_calls
    WHERE need_action IS NOT NULL AND need_resource IS NOT NULL
);
