-- Each catalog template as the literal text before its first placeholder and up to
-- four (argument, literal text up to the next argument) slots, so that most calls fill
-- their template in one row. A piece's slot is the number of argument pieces up to and
-- including it. ak_template_pieces is built from the catalog by the runner.
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
