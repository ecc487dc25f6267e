-- The permission universe of each period: every catalog tool's action with its
-- resource template generalised (each {placeholder} written as '*'), and every concrete
-- action and resource that a call of the period needed. An action compares
-- case-insensitively unless its namespace is listed as case-sensitive, so the element
-- key lowers it; the shown action prefers the catalog's spelling.
CREATE OR REPLACE TEMP TABLE dr_catalog_elements AS
SELECT
    tool,
    action,
    regexp_replace(resource_template, '\{[^{}]+\}', '*', 'g') AS resource,
    risk_tier
FROM catalog;

CREATE OR REPLACE TEMP TABLE dr_calls AS
SELECT
    p.period_index,
    f.call_id,
    f.ts,
    f.subject,
    f.actor,
    f.tool,
    f.action,
    f.resource,
    f.risk_tier,
    f.verdict,
    f.outcome,
    f.flag_run_as_user,
    f.agent_evidence,
    f.action IS NOT NULL AND f.resource IS NOT NULL AS mapped,
    f.verdict = 'within_scope' AND coalesce(f.outcome = 'allowed', FALSE) AS allowed_use
FROM findings AS f
JOIN dr_periods AS p ON f.ts >= p.period_start AND f.ts < p.period_end;

CREATE OR REPLACE TEMP TABLE dr_element_candidates AS
SELECT
    p.period_index,
    TRUE AS from_catalog,
    e.action,
    e.resource,
    e.tool,
    e.risk_tier
FROM dr_periods AS p
CROSS JOIN dr_catalog_elements AS e
UNION ALL
SELECT period_index, FALSE, action, resource, tool, risk_tier
FROM dr_calls
WHERE mapped;

CREATE OR REPLACE TEMP TABLE dr_universe AS
WITH keyed AS (
    SELECT
        *,
        list_contains($case_sensitive_namespaces, split_part(action, ':', 1))
            AS case_sensitive
    FROM dr_element_candidates
),
grouped AS (
    SELECT
        period_index,
        CASE WHEN case_sensitive THEN action ELSE lower(action) END AS action_key,
        resource,
        arg_min(action, (NOT from_catalog, action)) AS action,
        bool_or(case_sensitive) AS case_sensitive,
        bool_or(from_catalog) AS from_catalog,
        bool_or(NOT from_catalog) AS seen_in_calls,
        array_to_string(list_sort(list_distinct(list(tool))), ',') AS tools,
        max(list_position(
            ['read', 'write', 'export', 'external', 'delete', 'admin'],
            coalesce(risk_tier, 'write')
        )) AS tier_rank
    FROM keyed
    GROUP BY ALL
)
SELECT
    row_number() OVER (ORDER BY period_index, action_key, resource) AS element_id,
    period_index,
    action_key,
    action,
    resource,
    case_sensitive,
    CASE WHEN from_catalog AND NOT seen_in_calls THEN 'template'
        WHEN from_catalog THEN 'template,resource'
        ELSE 'resource'
    END AS element_kind,
    tools,
    ['read', 'write', 'export', 'external', 'delete', 'admin'][tier_rank] AS risk_tier
FROM grouped;

-- The elements each mapped call needed: its concrete permission, and the generalised
-- element of its tool when the call needed the tool's catalog action.
CREATE OR REPLACE TEMP TABLE dr_call_elements AS
SELECT c.period_index, c.call_id, u.element_id, FALSE AS via_template
FROM dr_calls AS c
JOIN dr_universe AS u
    ON u.period_index = c.period_index
    AND u.resource = c.resource
    AND u.action_key = CASE WHEN u.case_sensitive THEN c.action ELSE lower(c.action) END
WHERE c.mapped
UNION
SELECT c.period_index, c.call_id, u.element_id, TRUE
FROM dr_calls AS c
JOIN dr_catalog_elements AS e ON e.tool = c.tool
JOIN dr_universe AS u
    ON u.period_index = c.period_index
    AND u.resource = e.resource
    AND u.action_key = CASE WHEN u.case_sensitive THEN e.action ELSE lower(e.action) END
WHERE c.mapped
    AND u.action_key = CASE WHEN u.case_sensitive THEN c.action ELSE lower(c.action) END;

-- What the allowed within-scope calls of each agent used. Calls run as the user have
-- no separate agent scope, so they count for no agent.
CREATE OR REPLACE TEMP TABLE dr_used AS
SELECT DISTINCT c.period_index, c.actor, c.subject, c.call_id, e.element_id
FROM dr_calls AS c
JOIN dr_call_elements AS e ON e.call_id = c.call_id
WHERE c.allowed_use AND NOT c.flag_run_as_user;
