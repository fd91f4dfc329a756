import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
for (const sql of process.argv.slice(2)) {
  try { const r = await con.runAndReadAll(sql); console.log(JSON.stringify(r.getRowObjectsJson(), null, 0).slice(0, 3000)); }
  catch (e) { console.log('ERR', e.message); }
}
