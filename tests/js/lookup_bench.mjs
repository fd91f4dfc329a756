// lookup_bench: times DuckDB queries over two archives of the same rows, interleaved, and
// prints the median wall time of each (ms) as one JSON line per query. For bench/lookup.sh
// and bench/rowgroups.sh; the archives are hive-partitioned directories.
//   node lookup_bench.mjs --runs N --a DIR_A --b DIR_B NAME=SQL...   (SQL names the archive as SRC)
// Each query runs once untimed per archive (warm page cache, same for both), then N times
// alternately. Results of A and B must be equal (the same rows), or it exits 1.
import { DuckDBInstance } from '@duckdb/node-api';

const args = process.argv.slice(2);
let runs = 5, a = null, b = null, threads = '2';
const qs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = Number(args[++i]);
  else if (args[i] === '--a') a = args[++i];
  else if (args[i] === '--b') b = args[++i];
  else if (args[i] === '--threads') threads = args[++i];
  else { const k = args[i].indexOf('='); qs.push([args[i].slice(0, k), args[i].slice(k + 1)]); }
}
if (!a || !b || qs.length === 0) { console.error('usage: node lookup_bench.mjs --runs N --a DIR --b DIR NAME=SQL...'); process.exit(2); }
const src = (d) => `read_parquet('${d.replace(/'/g, "''")}/**/*.parquet', hive_partitioning = true)`;
const median = (v) => { const s = [...v].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
// a fresh database per archive and query so that no metadata cache carries over
async function once(dir, sql) {
  const inst = await DuckDBInstance.create(':memory:', { threads });
  const con = await inst.connect();
  const t0 = process.hrtime.bigint();
  const rows = (await con.runAndReadAll(sql.replaceAll('SRC', src(dir)))).getRowsJson();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  con.closeSync?.();
  inst.closeSync?.();
  return { ms, rows: JSON.stringify(rows) };
}
let bad = 0;
for (const [name, sql] of qs) {
  const ra = await once(a, sql), rb = await once(b, sql);
  if (ra.rows !== rb.rows) { console.error(`${name}: results differ: ${ra.rows.slice(0, 200)} vs ${rb.rows.slice(0, 200)}`); bad++; }
  const ta = [], tb = [];
  for (let i = 0; i < runs; i++) { ta.push((await once(a, sql)).ms); tb.push((await once(b, sql)).ms); }
  const ma = median(ta), mb = median(tb);
  console.log(JSON.stringify({ query: name, a_ms: +ma.toFixed(1), b_ms: +mb.toFixed(1), ratio_b_over_a: +(mb / ma).toFixed(2), result: ra.rows.slice(0, 120) }));
}
process.exit(bad ? 1 : 0);
