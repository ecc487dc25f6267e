-- Each call with the permission it needs, its coverage and the columns its finding
-- carries (all but the arguments), in one table that every later step reads.

-- Each catalog template as the literal text before its first placeholder and up to
-- four (argument, literal text up to the next argument) slots, so that most calls fill
-- their template in one row. A piece's slot is the number of argument pieces up to and
-- including it. template_pieces is built from the catalog by the runner.
CREATE OR REPLACE TEMP TABLE ak_templates AS
WITH numbered AS (
    SELECT
        tool,
        position,
        literal,
        argument,
        count(argument) OVER (
            PARTITION BY tool
            ORDER BY position
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS slot
    FROM ak_template_pieces
),
slots AS (
    SELECT
        tool,
        slot,
        max(argument) AS argument,
        coalesce(string_agg(literal, '' ORDER BY position), '') AS text
    FROM numbered
    GROUP BY tool, slot
)
SELECT
    tool,
    max(slot) AS argument_count,
    max(CASE WHEN slot = 0 THEN text END) AS prefix,
    max(CASE WHEN slot = 1 THEN argument END) AS argument_1,
    max(CASE WHEN slot = 1 THEN text END) AS text_1,
    max(CASE WHEN slot = 2 THEN argument END) AS argument_2,
    max(CASE WHEN slot = 2 THEN text END) AS text_2,
    max(CASE WHEN slot = 3 THEN argument END) AS argument_3,
    max(CASE WHEN slot = 3 THEN text END) AS text_3,
    max(CASE WHEN slot = 4 THEN argument END) AS argument_4,
    max(CASE WHEN slot = 4 THEN text END) AS text_4
FROM slots
GROUP BY tool;

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

-- Entitlement coverage: the loaded coverage intervals, or else from the earliest grant
-- or membership onwards, merged into disjoint intervals so that an instant lies in at
-- most one. Intervals that touch or overlap merge; empty ones cover nothing.
CREATE OR REPLACE TEMP TABLE ak_coverage AS
WITH spans AS (
    SELECT valid_from, coalesce(valid_to, TIMESTAMP '9999-12-31') AS valid_to
    FROM coverage
    UNION ALL
    SELECT min(valid_from), TIMESTAMP '9999-12-31'
    FROM (
        SELECT valid_from FROM grants
        UNION ALL
        SELECT valid_from FROM memberships
    )
    WHERE NOT EXISTS (SELECT 1 FROM coverage)
    HAVING min(valid_from) IS NOT NULL
),
reaches AS (
    SELECT
        valid_from,
        valid_to,
        max(valid_to) OVER (
            ORDER BY valid_from, valid_to
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reach_before
    FROM spans
    WHERE valid_to > valid_from
),
islands AS (
    SELECT
        valid_from,
        valid_to,
        sum(CASE WHEN valid_from <= reach_before THEN 0 ELSE 1 END) OVER (
            ORDER BY valid_from, valid_to
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS island
    FROM reaches
)
SELECT min(valid_from) AS valid_from, max(valid_to) AS valid_to
FROM islands
GROUP BY island;

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
