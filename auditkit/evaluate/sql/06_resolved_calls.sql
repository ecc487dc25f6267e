-- Each call with the permission it needs, its coverage and the columns its finding
-- carries (all but the arguments), in one table that every later step reads. Templates
-- with up to four placeholders are filled from ak_templates in one row per call.

-- Calls whose template has more than four placeholders, filled piece by piece.
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
    ) AS missing_argument
FROM calls AS c
JOIN ak_templates AS t ON t.tool = c.tool
JOIN ak_template_pieces AS p ON p.tool = c.tool
WHERE c.resource IS NULL AND t.argument_count > 4
GROUP BY c.call_id;

-- A template is filled only for a call without its own resource. A call is mapped
-- when it has an action and a resource, from itself or the catalog.
CREATE OR REPLACE TEMP TABLE ak_calls AS
WITH valued AS (
    SELECT
        c.call_id,
        c.ts,
        c.subject,
        c.actor,
        c.actor_chain,
        c.tool,
        c.resource,
        c.token_id,
        c.token_expires_at,
        c.audience,
        c.outcome,
        c.session_id,
        c.source_file,
        c.source_line,
        coalesce(c.action, k.action) AS need_action,
        k.risk_tier,
        coalesce(c.resource_server, k.resource_server) AS effective_server,
        coalesce(c.token_issued_at, c.session_started_at) AS delegation_start,
        c.actor IS NULL OR coalesce(c.actor = c.subject, FALSE) AS run_as_user,
        t.tool IS NOT NULL AS templated,
        t.argument_count,
        t.prefix,
        t.argument_1,
        t.text_1,
        t.argument_2,
        t.text_2,
        t.argument_3,
        t.text_3,
        t.argument_4,
        t.text_4,
        (c.arguments ->> t.argument_1) AS value_1,
        (c.arguments ->> t.argument_2) AS value_2,
        (c.arguments ->> t.argument_3) AS value_3,
        (c.arguments ->> t.argument_4) AS value_4
    FROM calls AS c
    LEFT JOIN catalog AS k ON k.tool = c.tool
    LEFT JOIN ak_templates AS t ON t.tool = c.tool AND c.resource IS NULL
),
filled AS (
    SELECT
        v.*,
        CASE
            WHEN NOT v.templated THEN FALSE
            WHEN v.argument_count > 4 THEN f.missing_argument
            ELSE (v.argument_1 IS NOT NULL AND v.value_1 IS NULL)
                OR (v.argument_2 IS NOT NULL AND v.value_2 IS NULL)
                OR (v.argument_3 IS NOT NULL AND v.value_3 IS NULL)
                OR (v.argument_4 IS NOT NULL AND v.value_4 IS NULL)
        END AS missing_argument,
        CASE
            WHEN v.argument_count > 4 THEN f.filled
            ELSE v.prefix
                || coalesce(v.value_1 || v.text_1, '')
                || coalesce(v.value_2 || v.text_2, '')
                || coalesce(v.value_3 || v.text_3, '')
                || coalesce(v.value_4 || v.text_4, '')
        END AS filled
    FROM valued AS v
    LEFT JOIN ak_filled AS f ON f.call_id = v.call_id
),
resolved AS (
    SELECT
        call_id,
        ts,
        subject,
        actor,
        actor_chain,
        tool,
        token_id,
        token_expires_at,
        audience,
        outcome,
        session_id,
        source_file,
        source_line,
        need_action,
        CASE
            WHEN resource IS NOT NULL THEN resource
            WHEN missing_argument THEN NULL
            ELSE filled
        END AS need_resource,
        missing_argument,
        risk_tier,
        effective_server,
        delegation_start,
        run_as_user
    FROM filled
)
SELECT
    r.*,
    r.need_action IS NOT NULL AND (r.need_resource IS NOT NULL OR r.missing_argument)
        AS mapped,
    now_covered.valid_from IS NOT NULL AS covered,
    r.delegation_start IS NOT NULL
        AND r.delegation_start < r.ts
        AND start_covered.valid_from IS NOT NULL AS start_usable
FROM resolved AS r
LEFT JOIN ak_coverage AS now_covered
    ON r.ts >= now_covered.valid_from AND r.ts < now_covered.valid_to
LEFT JOIN ak_coverage AS start_covered
    ON r.delegation_start >= start_covered.valid_from
    AND r.delegation_start < start_covered.valid_to;
