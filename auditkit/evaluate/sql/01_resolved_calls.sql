-- Each call with the permission it needs, its risk tier and resource server.
-- Templates are filled from the call's arguments, piece by piece (template_pieces is
-- built from the catalog by the runner, because a template is parsed once, not per call).
CREATE OR REPLACE TEMP TABLE ak_filled AS
SELECT
    c.call_id,
    string_agg(
        coalesce(p.literal, (c.arguments ->> p.argument)), ''
        ORDER BY p.position
    ) AS filled,
    bool_or(
        p.argument IS NOT NULL
        AND (c.arguments ->> p.argument) IS NULL
    ) AS missing_argument,
    min(p.argument) FILTER (
        WHERE p.argument IS NOT NULL
        AND (c.arguments ->> p.argument) IS NULL
    ) AS missing_name
FROM calls AS c
JOIN ak_template_pieces AS p ON p.tool = c.tool
WHERE c.resource IS NULL
GROUP BY c.call_id;

CREATE OR REPLACE TEMP TABLE ak_resolved AS
SELECT
    c.*,
    k.tool IS NOT NULL AS in_catalog,
    coalesce(c.action, k.action) AS need_action,
    CASE
        WHEN c.resource IS NOT NULL THEN c.resource
        WHEN f.missing_argument THEN NULL
        ELSE coalesce(f.filled, k.resource_template)
    END AS need_resource,
    coalesce(f.missing_argument, FALSE) AS missing_argument,
    k.risk_tier,
    coalesce(c.resource_server, k.resource_server) AS effective_server,
    coalesce(c.token_issued_at, c.session_started_at) AS delegation_start,
    c.actor IS NULL OR coalesce(c.actor = c.subject, FALSE) AS run_as_user
FROM calls AS c
LEFT JOIN catalog AS k ON k.tool = c.tool
LEFT JOIN ak_filled AS f ON f.call_id = c.call_id;

-- A call is mapped when it has an action and a resource, from itself or the catalog.
CREATE OR REPLACE TEMP TABLE ak_mapped AS
SELECT
    r.*,
    r.need_action IS NOT NULL AND (r.need_resource IS NOT NULL OR r.missing_argument)
        AS mapped
FROM ak_resolved AS r;
