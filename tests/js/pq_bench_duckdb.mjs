// The DuckDB peer for bench/parquet_writer.sh: loads the NDJSON rows pq_bench wrote into an
// in-memory table (not timed), then times only `COPY table TO file (FORMAT parquet, COMPRESSION
// zstd)` with threads=1, in CPU seconds of this process. Prints one line per run.
//   node pq_bench_duckdb.mjs ROWS.ndjson OUT.parquet RUNS [codec]
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [src, out, runsArg, codecArg] = process.argv.slice(2);
if (!src || !out) { console.error('usage: node pq_bench_duckdb.mjs ROWS.ndjson OUT.parquet RUNS [zstd|snappy]'); process.exit(2); }
const runs = Number(runsArg || 3), codec = codecArg || 'zstd';
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
await con.run(`CREATE TABLE t AS SELECT did, time_us, make_timestamp(time_us)::TIMESTAMPTZ AS time, kind, operation,
  collection, rkey, rev, cid, record, make_timestamp(created_at_us)::TIMESTAMPTZ AS created_at, text, langs, embed_type, seq
  FROM read_json('${src}', format='newline_delimited', columns={did:'VARCHAR', time_us:'BIGINT', kind:'VARCHAR',
  operation:'VARCHAR', collection:'VARCHAR', rkey:'VARCHAR', rev:'VARCHAR', cid:'VARCHAR', record:'VARCHAR',
  created_at_us:'BIGINT', text:'VARCHAR', langs:'VARCHAR[]', embed_type:'VARCHAR', seq:'BIGINT'})`);
const n = (await con.runAndReadAll('SELECT count(*) FROM t')).getRowsJS()[0][0];
for (let i = 0; i < runs; i++) {
  const c0 = process.cpuUsage();
  await con.run(`COPY t TO '${out}' (FORMAT parquet, COMPRESSION ${codec})`);
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  const bytes = fs.statSync(out).size;
  console.log(`rows=${n} cpu_s=${cpu.toFixed(3)} rows_per_cpu_s=${Math.round(Number(n) / cpu)} bytes=${bytes} bytes_per_row=${(bytes / Number(n)).toFixed(2)}`);
}
