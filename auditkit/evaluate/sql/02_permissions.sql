-- Distinct permissions the calls need. An action compares case-insensitively unless its
-- namespace (text before the first ':') is listed as case-sensitive.
CREATE OR REPLACE TEMP TABLE ak_permissions AS
WITH needed AS (
    SELECT DISTINCT need_action AS action, need_resource AS resource
    FROM ak_mapped
    WHERE mapped AND NOT missing_argument
)
SELECT
    row_number() OVER (ORDER BY action, resource) AS perm_id,
    action,
    resource,
    list_contains($case_sensitive_namespaces, split_part(action, ':', 1))
        AS case_sensitive
FROM needed;
