// pq_prune: proves that DuckDB skips row groups by the writer's statistics, on `time`
// (TIMESTAMP) and `did` (dictionary-encoded STRING).
//
// EXPLAIN ANALYZE only shows rows after the filter, so instead we make a copy of the file in
// which every column chunk of every row group but one is overwritten with 0xFF bytes (the
// footer stays intact). A filtered query that selects only rows of the intact row group must
// still succeed and return the exact expected aggregates: had DuckDB read any other row
// group, it would have hit garbage. The same query without the filter must fail, which shows
// the garbage is really there.
//
//   node pq_prune.mjs FILE.parquet FILE.json     (a pq_gen "many_*" case: time, time_us, did, ...)
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { deserializeTCompactProtocol } from 'hyparquet/src/thrift.js';

const [file, jsonFile] = process.argv.slice(2);
if (!file || !jsonFile) {
  console.error('usage: node pq_prune.mjs FILE.parquet FILE.json');
  process.exit(2);
}
let fails = 0, passes = 0;
const fail = (m) => { fails++; console.log(`FAIL - ${m}`); };
const pass = (m) => { passes++; console.log(`ok   - ${m}`); };

const exp = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
const buf = fs.readFileSync(file);
const flen = buf.readUInt32LE(buf.length - 8);
const meta = deserializeTCompactProtocol({ view: new DataView(buf.buffer, buf.byteOffset + buf.length - 8 - flen, flen), offset: 0 });
const rgs = meta.field_4;
if (rgs.length < 4) { fail(`need >= 4 row groups, got ${rgs.length}`); process.exit(1); }
const target = Math.floor(rgs.length / 2);
let first = 0;
for (let i = 0; i < target; i++) first += Number(rgs[i].field_3);
const n = Number(rgs[target].field_3);
const rows = exp.rows.slice(first, first + n);
const col = (name) => exp.columns.findIndex((c) => c.name === name);
const [iTime, iUs, iDid] = [col('time'), col('time_us'), col('did')];

const corrupt = `${file}.pruned.parquet`;
const copy = Buffer.from(buf);
rgs.forEach((rg, gi) => {
  if (gi === target) return;
  for (const cc of rg.field_1) {
    const md = cc.field_3;
    const start = Number(md.field_11 ?? md.field_9);
    copy.fill(0xff, start, start + Number(md.field_7));
  }
});
fs.writeFileSync(corrupt, copy);

function tsLiteral(us) {
  const b = BigInt(us);
  const iso = new Date(Number(b / 1000n)).toISOString().slice(0, 19).replace('T', ' ');
  return `'${iso}.${String(b % 1000000n).padStart(6, '0')}+00'::TIMESTAMPTZ`;
}

const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRowsJS()[0];

const lo = rows[0][iTime], hi = rows[n - 1][iTime];
const sumUs = rows.reduce((a, r) => a + BigInt(r[iUs]), 0n);
try {
  const r = await q(`SELECT count(*), sum(time_us), count(did), count(record) FROM read_parquet('${corrupt}') WHERE time BETWEEN ${tsLiteral(lo)} AND ${tsLiteral(hi)}`);
  const want = [BigInt(n), sumUs, BigInt(n), BigInt(rows.filter((x) => x[col('record')] !== null).length)];
  if (JSON.stringify(r.map(String)) === JSON.stringify(want.map(String))) pass(`time filter read only row group ${target} of ${rgs.length} (${n} rows, exact sums)`);
  else fail(`time filter: got ${r}, expected ${want}`);
} catch (e) { fail(`time filter touched a pruned row group: ${e.message}`); }

const did = rows[Math.floor(n / 2)][iDid];
const didRows = exp.rows.filter((x) => x[iDid] === did);
try {
  const r = await q(`SELECT count(*), sum(time_us) FROM read_parquet('${corrupt}') WHERE did = '${did}'`);
  const want = [BigInt(didRows.length), didRows.reduce((a, x) => a + BigInt(x[iUs]), 0n)];
  if (JSON.stringify(r.map(String)) === JSON.stringify(want.map(String))) pass(`did filter read only row group ${target} (${didRows.length} rows)`);
  else fail(`did filter: got ${r}, expected ${want}`);
} catch (e) { fail(`did filter touched a pruned row group: ${e.message}`); }

try {
  await q(`SELECT sum(time_us), count(did) FROM read_parquet('${corrupt}')`);
  fail('a full scan of the corrupted copy succeeded, so the pruning checks prove nothing');
} catch (e) { pass(`full scan of the corrupted copy fails as it must (${e.message.split('\n')[0].slice(0, 80)})`); }

fs.unlinkSync(corrupt);
console.log(`${passes} passed, ${fails} failed`);
process.exit(fails ? 1 : 0);
