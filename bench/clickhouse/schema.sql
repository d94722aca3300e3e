-- Tables for bench/storage_bench.sh (ClickHouse 18.16; run with clickhouse-client --multiquery).
--
-- `lode gen --format normalized` writes one JSON object per line:
--   {"ts":"2024-11-14T00:00:00.00864Z","ts_ns":1731542400008640000,"level":"info",
--    "service":"checkout","instance":"...","source":"k8s","message":"..."}
-- 18.16's JSONEachRow cannot parse ISO 8601 into DateTime (and has no DateTime64), so rows go
-- into a Null-engine table and a materialized view converts them into `logs`.
-- `ns` keeps the sub-second part in nanoseconds, so ClickHouse holds the same precision as Lode.

SET allow_experimental_low_cardinality_type = 1;

DROP TABLE IF EXISTS logs_mv;
DROP TABLE IF EXISTS logs_in;
DROP TABLE IF EXISTS logs;

CREATE TABLE logs
(
    ts DateTime,
    ns UInt32,
    level LowCardinality(String),
    service LowCardinality(String),
    instance String,
    source LowCardinality(String),
    message String
)
ENGINE = MergeTree
PARTITION BY tuple()
ORDER BY (service, ts);

CREATE TABLE logs_in
(
    ts String,
    ts_ns Int64,
    level String,
    service String,
    instance String,
    source String,
    message String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW logs_mv TO logs AS
SELECT
    parseDateTimeBestEffort(ts) AS ts,
    toUInt32(ts_ns % 1000000000) AS ns,
    toLowCardinality(level) AS level,
    toLowCardinality(service) AS service,
    instance,
    toLowCardinality(source) AS source,
    message
FROM logs_in;
