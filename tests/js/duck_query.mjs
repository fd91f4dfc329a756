// duck_query: run SQL in DuckDB (in memory) and print each statement's rows as one JSON line.
//
// A small generic runner for shell tests and benchmarks: values are converted to JSON with
// DuckDB's own JSON conversion (BIGINT as a string, lists as arrays, timestamps as ISO text).
//
//   node duck_query.mjs [--threads N] "SELECT ..." ["SELECT ..." ...]
//   node duck_query.mjs --scalar "SELECT count(*) FROM read_parquet('out/**/*.parquet')"   -> 42
//
// --scalar prints the first column of the first row as plain text (for $(...) in shell).
// A failing statement prints its error to stderr and exits 1.
import { DuckDBInstance } from '@duckdb/node-api';

const args = process.argv.slice(2);
let threads = null;
let scalar = false;
const sqls = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--threads') threads = args[++i];
  else if (args[i] === '--scalar') scalar = true;
  else sqls.push(args[i]);
}
if (sqls.length === 0) {
  console.error('usage: node duck_query.mjs [--threads N] [--scalar] SQL...');
  process.exit(2);
}
const inst = await DuckDBInstance.create(':memory:', threads ? { threads: String(threads) } : {});
const con = await inst.connect();
for (const sql of sqls) {
  try {
    const reader = await con.runAndReadAll(sql);
    const rows = reader.getRowObjectsJson();
    if (scalar) {
      const first = rows[0] ? Object.values(rows[0])[0] : null;
      console.log(first === null || first === undefined ? '' : String(first));
    } else {
      console.log(JSON.stringify(rows));
    }
  } catch (e) {
    console.error(`duck_query: ${e.message}\n  in: ${sql}`);
    process.exit(1);
  }
}
