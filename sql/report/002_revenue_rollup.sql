-- Revenue rolled up like the counts (issue 13's benchmark: a month of revenue by line over the raw
-- facts took a second). A payment or refund adds its amount to hourly as soon as it arrives
-- (payments, refunds); once its ticket is known too — whichever event comes second —
-- attribute_revenue adds it by ticket type, by method and by line (split by segment price, shares
-- adding up exactly) and marks it attributed. Queries read the rollup, plus the few money rows still
-- waiting for their ticket. The consumer serialises the two sides of one ticket with an advisory lock.
ALTER TABLE money ADD COLUMN attributed boolean NOT NULL DEFAULT false;
CREATE INDEX money_unattributed_idx ON money (at) WHERE NOT attributed;
CREATE INDEX money_ticket_idx ON money (ticket_id) WHERE NOT attributed;

-- The functions resolve names in this schema whoever calls them (an operator's psql session too).
ALTER FUNCTION rebuild_hourly_taps() SET search_path FROM CURRENT;

-- Attributes the unattributed money of these tickets whose ticket is known: revenue_type (n =
-- payments, amount = net), revenue_method, revenue_line (passes under 'passes', tickets without
-- lines under 'unassigned'). The consumer passes one ticket; rebuild_revenue passes them all.
CREATE FUNCTION attribute_revenue(p_tickets text[]) RETURNS void LANGUAGE sql SET search_path FROM CURRENT AS $$
  WITH todo AS (
    UPDATE money m SET attributed = true FROM tickets t
    WHERE m.ticket_id = ANY (p_tickets) AND t.ticket_id = m.ticket_id AND NOT m.attributed
    RETURNING m.ticket_id, report_hour(m.at) AS hour, m.amount, (m.kind = 'payment')::int AS paid, t.ticket_type,
              coalesce(nullif(t.payment_method, ''), nullif(m.method, ''), 'unknown') AS method),
  lines AS (
    SELECT ticket_id, route_id, segment_price,
           sum(segment_price) OVER (PARTITION BY ticket_id ORDER BY seq) AS cum,
           sum(segment_price) OVER (PARTITION BY ticket_id) AS total
    FROM ticket_lines WHERE ticket_id = ANY (p_tickets)),
  by_type AS (
    INSERT INTO hourly (hour, metric, key, n, amount)
    SELECT hour, 'revenue_type', ticket_type, sum(paid), sum(amount) FROM todo GROUP BY 1, 3
    ON CONFLICT (hour, metric, key) DO UPDATE SET n = hourly.n + EXCLUDED.n, amount = hourly.amount + EXCLUDED.amount),
  by_method AS (
    INSERT INTO hourly (hour, metric, key, n, amount)
    SELECT hour, 'revenue_method', method, sum(paid), sum(amount) FROM todo GROUP BY 1, 3
    ON CONFLICT (hour, metric, key) DO UPDATE SET n = hourly.n + EXCLUDED.n, amount = hourly.amount + EXCLUDED.amount),
  shares AS (
    SELECT todo.hour,
           CASE WHEN todo.ticket_type LIKE '%\_pass' THEN 'passes' WHEN l.route_id IS NULL THEN 'unassigned'
                ELSE l.route_id END AS key,
           CASE WHEN l.route_id IS NULL THEN todo.amount
                ELSE floor(todo.amount::numeric * l.cum / l.total)
                     - floor(todo.amount::numeric * (l.cum - l.segment_price) / l.total) END AS amount
    FROM todo LEFT JOIN lines l
      ON l.ticket_id = todo.ticket_id AND todo.ticket_type NOT LIKE '%\_pass' AND l.total > 0)
  INSERT INTO hourly (hour, metric, key, n, amount)
  SELECT hour, 'revenue_line', key, 0, sum(amount) FROM shares GROUP BY 1, 3
  ON CONFLICT (hour, metric, key) DO UPDATE SET n = hourly.n + EXCLUDED.n, amount = hourly.amount + EXCLUDED.amount
$$;

-- Recomputes every revenue row of hourly from the facts (after a bulk load or a restore; the
-- consumer keeps them current otherwise), set-based: one pass over money, tickets and lines.
CREATE FUNCTION rebuild_revenue() RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  DELETE FROM hourly WHERE metric IN ('payments', 'refunds', 'revenue_type', 'revenue_method', 'revenue_line');
  INSERT INTO hourly (hour, metric, key, n, amount)
    SELECT report_hour(at), CASE kind WHEN 'payment' THEN 'payments' ELSE 'refunds' END, '', count(*), sum(abs(amount))
    FROM money GROUP BY 1, 2;
  UPDATE money SET attributed = false WHERE attributed;
  PERFORM attribute_revenue(array_agg(DISTINCT ticket_id)) FROM money;
END
$$;

-- What the consumer recorded before this migration.
SELECT rebuild_revenue();
