// demo_query: what `make demo` prints at the end: the archive read back by DuckDB, rows per
// type and hour partition, plus a total. Usage: node demo_query.mjs ARCHIVE_DIR
// The casts keep it working on archives of the old, zero-padded layout (month=08, typed
// VARCHAR by DuckDB) as on current ones (month=8, typed as integers). It works on any subset
// of an archive (one type, one hour: union_by_name lines up whatever columns there are); a
// directory without Parquet files gets a plain message instead of DuckDB's "No files found".
// docs/QUERIES.md has the research queries.
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node demo_query.mjs ARCHIVE_DIR');
  process.exit(2);
}
if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
  console.error(`demo_query: ${dir} is not a directory (give the archive's directory: convert --out, or the writer's data dir)`);
  process.exit(1);
}
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const glob = `${dir}/**/*.parquet`.replaceAll("'", "''");
const files = Number((await con.runAndReadAll(`SELECT count(*) FROM glob('${glob}')`)).getRows()[0][0]);
if (files === 0) {
  console.error(`demo_query: no Parquet files under ${dir}: the archive is empty (nothing written yet?)`);
  process.exit(1);
}
const rows = (await con.runAndReadAll(`
  SELECT type, format('{:04d}-{:02d}-{:02d} {:02d}:00', year::INTEGER, month::INTEGER, day::INTEGER, hour::INTEGER) AS hour_utc,
         count(*)::BIGINT AS events, count(DISTINCT did)::BIGINT AS accounts
  FROM read_parquet('${glob}', hive_partitioning = true, union_by_name = true)
  GROUP BY ALL ORDER BY hour_utc, events DESC`)).getRowObjects();
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
console.log(`${pad('type', 10)}${pad('hour (UTC)', 18)}${lpad('rows', 10)}${lpad('accounts', 10)}`);
let total = 0n;
for (const r of rows) {
  console.log(`${pad(r.type, 10)}${pad(r.hour_utc, 18)}${lpad(r.events, 10)}${lpad(r.accounts, 10)}`);
  total += r.events;
}
console.log(`${pad('total', 28)}${lpad(total, 10)}`);
