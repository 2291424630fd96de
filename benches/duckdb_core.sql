-- The core of the nightly job written as a DuckDB user would write it, over the same files
-- portrait reads: identity the simple deterministic way (docs/design.md asks this of the baseline: records with the
-- same phone or email are one person, two rounds of label propagation), dedupe orders, map ids
-- to persons, per-person RFM and behaviour aggregates, event counts by window, social counts,
-- ratings, quintile scores. {input} and {end} are filled in by whole_run.py.
CREATE OR REPLACE TEMP TABLE cust AS
SELECT row_number() OVER () AS rid, source, source_customer_id,
       nullif(right(regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g'), 11), '') AS phone,
       nullif(lower(trim(email)), '') AS email
FROM read_csv('{input}/customers/*.csv', all_varchar = true);
CREATE OR REPLACE TEMP TABLE idmap AS
WITH r1 AS (SELECT *, min(rid) OVER (PARTITION BY source, source_customer_id) AS k FROM cust),
     r2 AS (SELECT *, CASE WHEN phone IS NULL THEN k ELSE min(k) OVER (PARTITION BY phone) END AS k2 FROM r1),
     r3 AS (SELECT *, CASE WHEN email IS NULL THEN k2 ELSE min(k2) OVER (PARTITION BY email) END AS k3 FROM r2),
     r4 AS (SELECT *, CASE WHEN phone IS NULL THEN k3 ELSE min(k3) OVER (PARTITION BY phone) END AS k4 FROM r3)
SELECT source, source_customer_id, min(k4) AS customer_key FROM r4 GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE orders AS
SELECT o.*, m.customer_key
FROM (SELECT DISTINCT ON (source, order_id) * FROM read_parquet('{input}/orders/*.parquet')) o
JOIN idmap m USING (source, source_customer_id)
WHERE o.order_ts < TIMESTAMP '{end}';
CREATE OR REPLACE TEMP TABLE buyer AS
SELECT customer_key,
       sum(net_amount) FILTER (WHERE status = 'paid') AS total_spend,
       sum(net_amount) FILTER (WHERE status = 'paid' AND order_ts >= TIMESTAMP '{end}' - INTERVAL 365 DAY) AS monetary,
       count(*) FILTER (WHERE status = 'paid' AND order_ts >= TIMESTAMP '{end}' - INTERVAL 365 DAY) AS frequency,
       count(*) FILTER (WHERE status = 'paid') AS orders,
       max(net_amount) FILTER (WHERE status = 'paid') AS max_order,
       date_diff('day', max(order_ts) FILTER (WHERE status = 'paid'), TIMESTAMP '{end}') AS recency,
       count(DISTINCT CAST(order_ts AS DATE)) FILTER (WHERE status = 'paid') AS purchase_days,
       count(*) FILTER (WHERE status = 'refunded') AS refunded,
       sum(discount_amount) FILTER (WHERE status = 'paid') / nullif(sum(gross_amount) FILTER (WHERE status = 'paid'), 0) AS discount_share
FROM orders GROUP BY customer_key;
CREATE OR REPLACE TEMP TABLE ev AS
SELECT m.customer_key,
       count(*) FILTER (WHERE event_type = 'view' AND event_ts >= TIMESTAMP '{end}' - INTERVAL 7 DAY) AS view_7d,
       count(*) FILTER (WHERE event_type = 'view' AND event_ts >= TIMESTAMP '{end}' - INTERVAL 30 DAY) AS view_30d,
       count(*) FILTER (WHERE event_type = 'view' AND event_ts >= TIMESTAMP '{end}' - INTERVAL 90 DAY) AS view_90d,
       count(*) FILTER (WHERE event_type = 'click' AND event_ts >= TIMESTAMP '{end}' - INTERVAL 30 DAY) AS click_30d,
       count(*) FILTER (WHERE event_type = 'add_to_cart' AND event_ts >= TIMESTAMP '{end}' - INTERVAL 30 DAY) AS cart_30d,
       count(*) FILTER (WHERE event_type = 'search' AND event_ts >= TIMESTAMP '{end}' - INTERVAL 30 DAY) AS search_30d,
       count(*) FILTER (WHERE event_type = 'login' AND event_ts >= TIMESTAMP '{end}' - INTERVAL 30 DAY) AS login_30d
FROM read_parquet('{input}/events/*.parquet') e JOIN idmap m USING (source, source_customer_id)
WHERE e.event_ts < TIMESTAMP '{end}'
GROUP BY m.customer_key;
CREATE OR REPLACE TEMP TABLE so AS
SELECT m.customer_key, count(*) FILTER (WHERE action = 'share') AS shares, count(*) FILTER (WHERE action = 'invite') AS invites,
       count(*) FILTER (WHERE action = 'like') AS likes, count(DISTINCT platform) AS platforms
FROM read_json_auto('{input}/social_interactions/*.ndjson') s JOIN idmap m USING (source, source_customer_id)
GROUP BY m.customer_key;
CREATE OR REPLACE TEMP TABLE fb AS
SELECT m.customer_key, avg(TRY_CAST(rating AS DOUBLE)) AS rating, count(*) FILTER (WHERE kind = 'complaint') AS complaints
FROM read_csv_auto('{input}/feedback/*.csv', all_varchar = true) f JOIN idmap m USING (source, source_customer_id)
GROUP BY m.customer_key;
CREATE OR REPLACE TEMP TABLE result AS
SELECT k.customer_key, b.*, e.* EXCLUDE (customer_key), s.* EXCLUDE (customer_key), f.* EXCLUDE (customer_key),
       ntile(5) OVER (ORDER BY b.recency DESC) AS r, ntile(5) OVER (ORDER BY b.frequency) AS f_score,
       ntile(5) OVER (ORDER BY b.monetary) AS m
FROM (SELECT DISTINCT customer_key FROM idmap) k
LEFT JOIN buyer b USING (customer_key) LEFT JOIN ev e USING (customer_key)
LEFT JOIN so s USING (customer_key) LEFT JOIN fb f USING (customer_key);
