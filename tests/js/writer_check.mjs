// writer_check: checks a DataWriter archive against the JSONL the test fed in, with DuckDB.
//
//   node writer_check.mjs --out DIR --input FILE.jsonl [--ledger-rows N] [--keep-other] [--print]
//
// Exactly-once means: for every (type, hour) partition, the archive holds exactly the
// input's multiset of (did, kind, collection, rkey, rev, operation, seq, time_us), with
// repeated input lines (planted duplicates) counted once; no dedup key appears twice; every
// row sits in the partition of its own time_us and type; and the ledger's row total equals
// the rows in the files. Prints one "ok/FAIL" line per check; exit 0 when all pass.
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const out = opt('--out'), input = opt('--input'), ledgerRows = opt('--ledger-rows');
const keepOther = args.includes('--keep-other'), print = args.includes('--print');
if (!out || !input) {
  console.error('usage: node writer_check.mjs --out DIR --input FILE.jsonl [--ledger-rows N] [--keep-other] [--print]');
  process.exit(2);
}
let fails = 0;
const check = (ok, what) => {
  if (!ok) fails++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} - ${what}`);
};
const q = (s) => `'${s.replaceAll("'", "''")}'`;

// Temporaries left behind are a protocol bug too.
const temps = [];
(function walk(d) {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.tmp')) temps.push(p);
  }
})(out);
check(temps.length === 0, `no temporary files left (${temps.length})`);

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const all = async (sql) => (await con.runAndReadAll(sql)).getRowObjects();
await con.run('SET threads=1');
await con.run(`CREATE TABLE inp AS SELECT * FROM read_json(${q(input)}, format='newline_delimited',
  columns={did:'VARCHAR', time_us:'BIGINT', kind:'VARCHAR',
           "commit":'STRUCT(rev VARCHAR, operation VARCHAR, collection VARCHAR, rkey VARCHAR)',
           identity:'STRUCT(seq BIGINT)', account:'STRUCT(seq BIGINT)'})`);
const typeOf = `CASE kind WHEN 'identity' THEN 'identity' WHEN 'account' THEN 'account' ELSE
  CASE "commit".collection WHEN 'app.bsky.feed.post' THEN 'post' WHEN 'app.bsky.feed.like' THEN 'like'
  WHEN 'app.bsky.feed.repost' THEN 'repost' WHEN 'app.bsky.graph.follow' THEN 'follow'
  WHEN 'app.bsky.graph.block' THEN 'block' ELSE 'other' END END`;
await con.run(`CREATE TABLE exp AS SELECT DISTINCT ${typeOf} AS type, time_us // 3600000000 AS hr, did, kind,
  "commit".collection AS collection, "commit".rkey AS rkey, "commit".rev AS rev, "commit".operation AS operation,
  coalesce(identity.seq, account.seq) AS seq, time_us FROM inp`);
if (!keepOther) await con.run(`DELETE FROM exp WHERE type = 'other'`);
await con.run(`CREATE TABLE got AS SELECT type AS ptype, year AS pyear, month AS pmonth, day AS pday, hour AS phour,
  filename, did, kind, collection, rkey, rev, operation, seq, time_us
  FROM read_parquet(${q(out + '/**/*.parquet')}, hive_partitioning=true, union_by_name=true, filename=true)`);

const [{ n: nexp }] = await all('SELECT count(*)::BIGINT AS n FROM exp');
const [{ n: ngot }] = await all('SELECT count(*)::BIGINT AS n FROM got');
check(nexp === ngot, `rows: archive ${ngot}, input (distinct) ${nexp}`);
const cols = 'did, kind, collection, rkey, rev, operation, seq, time_us';
const [{ n: missing }] = await all(`SELECT count(*)::BIGINT AS n FROM (SELECT type, hr, ${cols} FROM exp EXCEPT ALL
  SELECT ptype, time_us // 3600000000, ${cols} FROM got)`);
const [{ n: extra }] = await all(`SELECT count(*)::BIGINT AS n FROM (SELECT ptype, time_us // 3600000000, ${cols}
  FROM got EXCEPT ALL SELECT type, hr, ${cols} FROM exp)`);
check(missing === 0n, `every input row is in its (type, hour) partition (${missing} missing)`);
check(extra === 0n, `no row that is not in the input, none twice (${extra} extra)`);
const [{ n: dupkeys }] = await all(`SELECT (count(*) - count(DISTINCT (did, kind, collection, rkey, rev, operation, seq)))::BIGINT
  AS n FROM got`);
check(dupkeys === 0n, `no dedup key written twice (${dupkeys})`);
const [{ n: misplaced }] = await all(`SELECT count(*)::BIGINT AS n FROM got WHERE
  pyear <> year(make_timestamp(time_us) AT TIME ZONE 'UTC') OR
  pmonth <> month(make_timestamp(time_us) AT TIME ZONE 'UTC') OR
  pday <> day(make_timestamp(time_us) AT TIME ZONE 'UTC') OR
  phour <> hour(make_timestamp(time_us) AT TIME ZONE 'UTC') OR
  ptype <> CASE kind WHEN 'identity' THEN 'identity' WHEN 'account' THEN 'account' ELSE
    CASE collection WHEN 'app.bsky.feed.post' THEN 'post' WHEN 'app.bsky.feed.like' THEN 'like'
    WHEN 'app.bsky.feed.repost' THEN 'repost' WHEN 'app.bsky.graph.follow' THEN 'follow'
    WHEN 'app.bsky.graph.block' THEN 'block' ELSE 'other' END END`);
check(misplaced === 0n, `every row sits in the partition of its time_us and type (${misplaced} misplaced)`);
if (ledgerRows !== undefined) check(BigInt(ledgerRows) === ngot, `ledger rows ${ledgerRows} == rows in the files ${ngot}`);
const parts = await all(`SELECT ptype, pyear, pmonth, pday, phour, count(*)::BIGINT AS n, count(DISTINCT filename)::BIGINT AS files
  FROM got GROUP BY ALL ORDER BY ALL`);
console.log(`info - ${parts.length} (type, hour) partitions, ${ngot} rows`);
if (print) for (const p of parts) console.log(`info - ${p.ptype} ${p.pyear}-${p.pmonth}-${p.pday} ${p.phour}h: ${p.n} rows in ${p.files} files`);
con.closeSync?.();
process.exit(fails ? 1 : 0);
