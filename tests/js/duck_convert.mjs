// duck_convert: the peer of `skyspool convert` for bench/convert.sh. DuckDB (threads=1)
// turns the same Jetstream JSONL into the same hive layout with the same 35 columns
// (docs/SCHEMA.md), the raw record JSON included, so the comparison is like for like:
//
//   COPY (SELECT ... FROM read_json(FILE, format='newline_delimited', columns={...}))
//   TO DIR (FORMAT parquet, PARTITION_BY (year, month, day, hour, type), COMPRESSION zstd)
//
// The typed record columns come from one json_extract_string() call with a list of paths
// (one parse of the record per row) plus typed from_json() for the lists, which is the
// fastest formulation we found. CPU time is measured around the COPY alone with
// process.cpuUsage() (user + system of this process, which is where DuckDB runs).
//
//   node duck_convert.mjs IN.jsonl OUT_DIR [--codec zstd|snappy] [--keep-other]
// Prints one JSON object: events, cpu_s, wall_s, bytes, files.
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const [input, outDir, ...rest] = process.argv.slice(2);
if (!input || !outDir) {
  console.error('usage: node duck_convert.mjs IN.jsonl OUT_DIR [--codec zstd|snappy] [--keep-other]');
  process.exit(2);
}
let codec = 'zstd';
let keepOther = false;
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--codec') codec = rest[++i];
  else if (rest[i] === '--keep-other') keepOther = true;
}
const lit = (s) => `'${s.replace(/'/g, "''")}'`;

const columns = `{
  did: 'VARCHAR', time_us: 'BIGINT', kind: 'VARCHAR',
  commit: 'STRUCT(rev VARCHAR, operation VARCHAR, collection VARCHAR, rkey VARCHAR, record JSON, cid VARCHAR)',
  identity: 'STRUCT(seq BIGINT, "time" VARCHAR, handle VARCHAR)',
  account: 'STRUCT(active BOOLEAN, seq BIGINT, "time" VARCHAR, status VARCHAR)'
}`;
// one parse of the record: every scalar path at once
const paths = ['$.createdAt', '$.text', '$.reply.root.uri', '$.reply.root.cid', '$.reply.parent.uri',
  '$.reply.parent.cid', '$.embed."$type"', '$.embed.external.uri', '$.embed.record.uri',
  '$.embed.record.record.uri', '$.subject.uri', '$.subject.cid', '$.via.uri', '$.via.cid', '$.subject'];
const P = (p) => `x[${paths.indexOf(p) + 1}]`;
const ts = (e) => `TRY_CAST(${e} AS TIMESTAMPTZ)`;
const typeExpr = `CASE WHEN kind = 'commit' THEN CASE commit.collection
    WHEN 'app.bsky.feed.post' THEN 'post' WHEN 'app.bsky.feed.like' THEN 'like'
    WHEN 'app.bsky.feed.repost' THEN 'repost' WHEN 'app.bsky.graph.follow' THEN 'follow'
    WHEN 'app.bsky.graph.block' THEN 'block' ELSE 'other' END ELSE kind END`;
const facetType = `'[{"features":[{"$type":"VARCHAR","did":"VARCHAR","uri":"VARCHAR","tag":"VARCHAR"}]}]'`;

const sql = `
COPY (
  WITH ev AS (
    SELECT *, ${typeExpr} AS type, make_timestamp(time_us) AS ts,
      json_extract_string(commit.record, [${paths.map(lit).join(', ')}]) AS x
    FROM read_json(${lit(input)}, format = 'newline_delimited', columns = ${columns})
  ), f AS (
    SELECT *, CASE WHEN type = 'post' THEN flatten(list_transform(
        from_json(json_extract(commit.record, '$.facets'), ${facetType}), fc -> fc.features)) END AS feats
    FROM ev ${keepOther ? '' : "WHERE type <> 'other'"}
  )
  SELECT did, time_us, ts::TIMESTAMPTZ AS "time", kind,
    commit.operation AS operation, commit.collection AS collection, commit.rkey AS rkey, commit.rev AS rev,
    commit.cid AS cid, commit.record::VARCHAR AS record,
    CASE WHEN type IN ('post', 'like', 'repost', 'follow', 'block') THEN ${ts(P('$.createdAt'))} END AS created_at,
    CASE WHEN type = 'post' THEN ${P('$.text')} END AS text,
    CASE WHEN type = 'post' THEN from_json(json_extract(commit.record, '$.langs'), '["VARCHAR"]') END AS langs,
    CASE WHEN type = 'post' THEN ${P('$.reply.root.uri')} END AS reply_root_uri,
    CASE WHEN type = 'post' THEN ${P('$.reply.root.cid')} END AS reply_root_cid,
    CASE WHEN type = 'post' THEN ${P('$.reply.parent.uri')} END AS reply_parent_uri,
    CASE WHEN type = 'post' THEN ${P('$.reply.parent.cid')} END AS reply_parent_cid,
    CASE WHEN type = 'post' THEN ${P('$.embed."$type"')} END AS embed_type,
    CASE WHEN type = 'post' THEN CASE ${P('$.embed."$type"')}
      WHEN 'app.bsky.embed.external' THEN ${P('$.embed.external.uri')}
      WHEN 'app.bsky.embed.record' THEN ${P('$.embed.record.uri')}
      WHEN 'app.bsky.embed.recordWithMedia' THEN ${P('$.embed.record.record.uri')} END END AS embed_uri,
    list_transform(list_filter(feats, ft -> ft."$type" = 'app.bsky.richtext.facet#mention'), ft -> ft.did) AS mentions,
    list_transform(list_filter(feats, ft -> ft."$type" = 'app.bsky.richtext.facet#link'), ft -> ft.uri) AS links,
    list_transform(list_filter(feats, ft -> ft."$type" = 'app.bsky.richtext.facet#tag'), ft -> ft.tag) AS tags,
    CASE WHEN type = 'post' THEN json_extract_string(commit.record, '$.labels.values[*].val') END AS labels,
    CASE WHEN type IN ('like', 'repost') THEN ${P('$.subject.uri')} END AS subject_uri,
    CASE WHEN type IN ('like', 'repost') THEN ${P('$.subject.cid')} END AS subject_cid,
    CASE WHEN type IN ('like', 'repost') THEN ${P('$.via.uri')} END AS via_uri,
    CASE WHEN type IN ('like', 'repost') THEN ${P('$.via.cid')} END AS via_cid,
    CASE WHEN type IN ('follow', 'block') THEN ${P('$.subject')} END AS subject,
    coalesce(identity.seq, account.seq) AS seq,
    ${ts('coalesce(identity."time", account."time")')} AS relay_time,
    coalesce(identity."time", account."time") AS relay_time_text,
    identity.handle AS handle, account.active AS active, account.status AS status,
    ${ts('coalesce(identity."time", account."time")')} AS claimed_time,
    year(ts) AS year, month(ts) AS month, day(ts) AS day, hour(ts) AS hour, type
  FROM f
) TO ${lit(outDir)} (FORMAT parquet, PARTITION_BY (year, month, day, hour, type), COMPRESSION ${codec})`;

const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
await con.run(sql);
const c1 = process.cpuUsage(c0);
const wall = Number(process.hrtime.bigint() - t0) / 1e9;

let bytes = 0, files = 0;
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.parquet')) { files++; bytes += fs.statSync(p).size; }
  }
};
walk(outDir);
const n = (await con.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM read_parquet(${lit(outDir + '/**/*.parquet')})`)).getRowsJS()[0][0];
console.log(JSON.stringify({ events: Number(n), cpu_s: (c1.user + c1.system) / 1e6, wall_s: wall, bytes, files }));
