// pq_check: reads Parquet files written by tests/tools/pq_gen back with three independent
// readers (DuckDB, hyparquet, arrow-rs via parquet-wasm) and compares every value with the
// JSON written beside each file. It also walks every page of every column chunk with its own
// Thrift decoding, so page sizes, num_values, offsets and total sizes are checked exactly,
// and it checks statistics (recomputed from the expected rows), column_orders, codec,
// encodings, created_by and key/value metadata.
//
//   node pq_check.mjs DIR [NAME ...]        exit 0 when every check passes
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetReadObjects, parquetMetadata } from 'hyparquet';
import { deserializeTCompactProtocol } from 'hyparquet/src/thrift.js';
import { compressors } from 'hyparquet-compressors';
import { readParquet } from 'parquet-wasm';
import { tableFromIPC } from 'apache-arrow';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node pq_check.mjs DIR [NAME ...]');
  process.exit(2);
}
const only = new Set(process.argv.slice(3));
let fails = 0, passes = 0;
const fail = (c, msg) => { fails++; console.log(`FAIL - ${c}: ${msg}`); };
const pass = (c, msg) => { passes++; console.log(`ok   - ${c}: ${msg}`); };

// ---- canonical values: null, bool, Number for int32, decimal string for int64/timestamp,
// string, array of strings for lists.
function canon(type, v) {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'boolean': return v === true || v === 1 || v === 1n ? true : v === false || v === 0 || v === 0n ? false : `?${v}`;
    case 'int32': return Number(v);
    case 'int64': case 'timestamp': return BigInt(v).toString();
    case 'string': return typeof v === 'string' ? v : `?${typeof v}`;
    case 'list': return Array.from(v, (x) => (typeof x === 'string' ? x : `?${x}`));
  }
  return `?${type}`;
}

function compareTable(c, reader, exp, got) {
  const cols = exp.columns;
  if (got.length !== exp.rows.length) {
    fail(c, `${reader}: ${got.length} rows, expected ${exp.rows.length}`);
    return;
  }
  let bad = 0;
  for (let r = 0; r < exp.rows.length && bad < 5; r++) {
    for (let k = 0; k < cols.length; k++) {
      const e = JSON.stringify(canon(cols[k].type, exp.rows[r][k]));
      const g = JSON.stringify(canon(cols[k].type, got[r][k]));
      if (e !== g) {
        bad++;
        fail(c, `${reader}: row ${r} column ${cols[k].name}: expected ${e.slice(0, 200)}, got ${g.slice(0, 200)}`);
        break;
      }
    }
  }
  if (!bad) pass(c, `${reader}: ${exp.rows.length} rows x ${cols.length} columns equal`);
}

// ---- readers
async function readDuck(con, file, exp) {
  const proj = exp.columns.map((col) => (col.type === 'timestamp' ? `epoch_us("${col.name}")` : `"${col.name}"`)).join(', ');
  const r = await con.runAndReadAll(`SELECT ${proj} FROM read_parquet('${file}')`);
  return r.getRowsJS();
}

async function duckTypes(con, file) {
  const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
  return r.getRowObjectsJS().map((x) => x.column_type);
}

async function readHy(buf, exp) {
  const rows = await parquetReadObjects({
    file: buf, compressors, parsers: { timestampFromMicroseconds: (v) => v },
  });
  return rows.map((o) => exp.columns.map((col) => o[col.name]));
}

function readArrow(bytes, exp) {
  const table = tableFromIPC(readParquet(bytes).intoIPCStream());
  const out = Array.from({ length: table.numRows }, () => []);
  for (const col of exp.columns) {
    const vec = table.getChild(col.name);
    let i = 0;
    for (const d of vec.data) {
      for (let j = 0; j < d.length; j++, i++) {
        if (!d.getValid(j)) { out[i].push(null); continue; }
        if (col.type === 'timestamp' || col.type === 'int64') out[i].push(d.values[d.offset + j]);
        else if (col.type === 'list') out[i].push(Array.from(vec.get(i).toArray()));
        else out[i].push(vec.get(i));
      }
    }
  }
  return { rows: out, schema: table.schema };
}

// ---- footer and pages, decoded here (not by a reader under test)
function footer(buf) {
  const n = buf.length;
  if (buf.toString('latin1', 0, 4) !== 'PAR1' || buf.toString('latin1', n - 4) !== 'PAR1') throw new Error('bad magic');
  const len = buf.readUInt32LE(n - 8);
  const view = new DataView(buf.buffer, buf.byteOffset + n - 8 - len, len);
  const reader = { view, offset: 0 };
  const meta = deserializeTCompactProtocol(reader);
  if (reader.offset !== len) throw new Error(`footer length ${len} but Thrift ended at ${reader.offset}`);
  return meta;
}

const TYPES = { boolean: 0, int32: 1, int64: 2, timestamp: 2, string: 6, list: 6 };

function walkPages(buf, c, cc, name, pageBytes) {
  const md = cc.field_3;
  const start = Number(md.field_11 ?? md.field_9);
  const end = start + Number(md.field_7);
  let off = start, numValues = 0, unc = 0, first = true;
  const encs = [];
  let hasDict = false;
  while (off < end) {
    const reader = { view: new DataView(buf.buffer, buf.byteOffset + off, end - off), offset: 0 };
    const h = deserializeTCompactProtocol(reader);
    if (h.field_1 === 2) {
      if (!first) throw new Error('dictionary page after a data page');
      if (md.field_11 === undefined || Number(md.field_11) !== off) throw new Error('dictionary page without dictionary_page_offset');
      if (h.field_7.field_2 !== 0 && h.field_7.field_2 !== 2) throw new Error(`dictionary encoding ${h.field_7.field_2}`);
      hasDict = true;
    } else if (h.field_1 === 0) {
      if (encs.length === 0 && Number(md.field_9) !== off) throw new Error(`data_page_offset ${md.field_9}, first data page at ${off}`);
      numValues += h.field_5.field_1;
      encs.push(h.field_5.field_2);
      if (h.field_2 > pageBytes * 2 + 64 && pageBytes >= 4096 && h.field_5.field_1 > 1) {
        throw new Error(`page of ${h.field_2} bytes exceeds page_bytes ${pageBytes}`);
      }
    } else {
      throw new Error(`unexpected page type ${h.field_1}`);
    }
    unc += reader.offset + h.field_2;
    off += reader.offset + h.field_3;
    first = false;
  }
  if (off !== end) throw new Error(`pages end at ${off}, chunk ends at ${end}`);
  if (numValues !== Number(md.field_5)) throw new Error(`pages hold ${numValues} values, metadata says ${md.field_5}`);
  if (unc !== Number(md.field_6)) throw new Error(`uncompressed ${unc}, metadata says ${md.field_6}`);
  if (Number(cc.field_2) !== start) throw new Error(`file_offset ${cc.field_2}, chunk starts at ${start}`);
  return { encs, hasDict };
}

// ---- statistics recomputed from the expected rows
const enc = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
function statDecode(type, bytes) {
  const b = Buffer.from(bytes);
  switch (type) {
    case 'boolean': return b.length === 1 ? (b[0] ? 'true' : 'false') : `?len${b.length}`;
    case 'int32': return b.length === 4 ? String(b.readInt32LE(0)) : `?len${b.length}`;
    default: return b.length === 8 ? b.readBigInt64LE(0).toString() : `?len${b.length}`;
  }
}
function expectedStats(type, rows, k) {
  let nulls = 0, min = null, max = null;
  for (const row of rows) {
    const v = row[k];
    if (type === 'list') {
      if (v === null || v.length === 0) { nulls++; continue; }
      for (const s of v) {
        const b = Buffer.from(enc.encode(s));
        if (min === null || Buffer.compare(b, min) < 0) min = b;
        if (max === null || Buffer.compare(b, max) > 0) max = b;
      }
      continue;
    }
    if (v === null) { nulls++; continue; }
    if (type === 'string') {
      const b = Buffer.from(enc.encode(v));
      if (min === null || Buffer.compare(b, min) < 0) min = b;
      if (max === null || Buffer.compare(b, max) > 0) max = b;
    } else {
      const x = type === 'boolean' ? BigInt(v ? 1 : 0) : BigInt(v);
      if (min === null || x < min) min = x;
      if (max === null || x > max) max = x;
    }
  }
  return { nulls, min, max };
}

function checkStats(c, col, k, st, rows) {
  const e = expectedStats(col.type, rows, k);
  if (!st) throw new Error(`${col.name}: no statistics`);
  if (Number(st.field_3) !== e.nulls) throw new Error(`${col.name}: null_count ${st.field_3}, expected ${e.nulls}`);
  if (e.min === null) {
    if (st.field_5 !== undefined || st.field_6 !== undefined) throw new Error(`${col.name}: min/max on an all-null chunk`);
    return;
  }
  if (st.field_5 === undefined || st.field_6 === undefined) {
    if (col.type === 'string' || col.type === 'list') {
      if (st.field_6 === undefined) throw new Error(`${col.name}: no min_value`);
      return; // max may be omitted when no short upper bound exists
    }
    throw new Error(`${col.name}: no min_value/max_value`);
  }
  if (col.type === 'string' || col.type === 'list') {
    const gmin = Buffer.from(st.field_6), gmax = Buffer.from(st.field_5);
    const minExact = st.field_8 !== false, maxExact = st.field_7 !== false;
    strictUtf8.decode(gmin); strictUtf8.decode(gmax);
    if (minExact ? !gmin.equals(e.min) : !(e.min.subarray(0, gmin.length).equals(gmin) && gmin.length < e.min.length))
      throw new Error(`${col.name}: min_value ${gmin.toString().slice(0, 60)} vs expected ${e.min.toString().slice(0, 60)} (exact=${minExact})`);
    if (maxExact ? !gmax.equals(e.max) : !(Buffer.compare(gmax, e.max) > 0))
      throw new Error(`${col.name}: max_value ${gmax.toString().slice(0, 60)} vs expected ${e.max.toString().slice(0, 60)} (exact=${maxExact})`);
    if (!minExact && gmin.length > 128) throw new Error(`${col.name}: truncated min still ${gmin.length} bytes`);
  } else {
    const gmin = statDecode(col.type, st.field_6), gmax = statDecode(col.type, st.field_5);
    const emin = col.type === 'boolean' ? String(e.min === 1n) : e.min.toString();
    const emax = col.type === 'boolean' ? String(e.max === 1n) : e.max.toString();
    if (gmin !== emin || gmax !== emax) throw new Error(`${col.name}: min/max ${gmin}/${gmax}, expected ${emin}/${emax}`);
  }
}

function checkFooter(c, buf, exp) {
  const meta = footer(buf);
  const leaves = exp.columns.length;
  if (meta.field_1 !== 1) throw new Error(`version ${meta.field_1}`);
  if (Number(meta.field_3) !== exp.rows.length) throw new Error(`num_rows ${meta.field_3}`);
  const orders = meta.field_7 || [];
  if (orders.length !== leaves || !orders.every((o) => o.field_1 && Object.keys(o.field_1).length === 0))
    throw new Error(`column_orders ${JSON.stringify(orders)}`);
  const createdBy = Buffer.from(meta.field_6).toString();
  // "skyspool version X.Y.Z (build COMMIT)": the build is the configured git commit (CMakeLists.txt)
  if (!/^skyspool version \d+\.\d+\.\d+ \(build ([0-9a-f]{7,}|unknown)\)$/.test(createdBy)) throw new Error(`created_by ${createdBy}`);
  const kv = Object.fromEntries((meta.field_5 || []).map((x) => [Buffer.from(x.field_1).toString(), Buffer.from(x.field_2).toString()]));
  if (JSON.stringify(kv) !== JSON.stringify(exp.kv)) throw new Error(`key/value ${JSON.stringify(kv)}`);
  const rgs = meta.field_4 || [];
  let row = 0, fallbackSeen = false;
  const dictSeen = new Set();
  rgs.forEach((rg, gi) => {
    const n = Number(rg.field_3);
    if (n < 1) throw new Error(`row group ${gi} has ${n} rows`);
    if (gi < rgs.length - 1 && exp.row_group_bytes >= (1 << 26) && n !== exp.row_group_rows)
      throw new Error(`row group ${gi} has ${n} rows, expected ${exp.row_group_rows}`);
    if (n > exp.row_group_rows) throw new Error(`row group ${gi} has ${n} rows > ${exp.row_group_rows}`);
    const rows = exp.rows.slice(row, row + n);
    row += n;
    if (rg.field_1.length !== leaves) throw new Error(`row group ${gi}: ${rg.field_1.length} chunks`);
    let comp = 0, unc = 0;
    rg.field_1.forEach((cc, k) => {
      const col = exp.columns[k];
      const md = cc.field_3;
      if (md.field_1 !== TYPES[col.type]) throw new Error(`${col.name}: physical type ${md.field_1}`);
      const codec = { none: 0, snappy: 1, zstd: 6 }[exp.codec];
      if (md.field_4 !== codec) throw new Error(`${col.name}: codec ${md.field_4}, expected ${codec}`);
      const { encs, hasDict } = walkPages(buf, c, cc, col.name, 1 << 20);
      const menc = new Set(md.field_2);
      for (const e of encs) if (!menc.has(e)) throw new Error(`${col.name}: page encoding ${e} not in chunk encodings ${[...menc]}`);
      if (hasDict) dictSeen.add(col.name);
      if (encs.includes(8) && encs.includes(0) && encs.indexOf(8) < encs.lastIndexOf(0)) fallbackSeen = true;
      if (encs.includes(8) && !hasDict) throw new Error(`${col.name}: RLE_DICTIONARY pages without a dictionary page`);
      if (TYPES[col.type] === 2 && exp.delta && rows.some((r) => r[k] !== null) && encs.some((e) => e !== 5 && e !== 0))
        throw new Error(`${col.name}: delta_int64 set but pages are ${encs}`);
      if (TYPES[col.type] === 2 && exp.delta && encs.filter((e) => e === 5).length === 0 && rows.some((r) => r[k] !== null))
        throw new Error(`${col.name}: delta_int64 set but no DELTA_BINARY_PACKED page`);
      if (!exp.delta && encs.includes(5)) throw new Error(`${col.name}: DELTA_BINARY_PACKED without delta_int64`);
      checkStats(c, col, k, md.field_12, rows);
      comp += Number(md.field_7); unc += Number(md.field_6);
    });
    if (Number(rg.field_6) !== comp) throw new Error(`row group ${gi}: total_compressed_size ${rg.field_6} vs ${comp}`);
    if (Number(rg.field_2) !== unc) throw new Error(`row group ${gi}: total_byte_size ${rg.field_2} vs ${unc}`);
  });
  if (row !== exp.rows.length) throw new Error(`row groups hold ${row} rows`);
  for (const name of exp.expect.dict_columns) if (exp.rows.length && !dictSeen.has(name)) throw new Error(`${name} is not dictionary-encoded`);
  if (exp.expect.fallback && !fallbackSeen) throw new Error('no chunk falls back from dictionary to PLAIN');
  if (exp.expect.fallback && !(exp.stats.dict_fallbacks > 0)) throw new Error('writer reports no dictionary fallback');
  if (exp.stats.utf8_replaced !== exp.expect.utf8_replaced) throw new Error(`utf8_replaced ${exp.stats.utf8_replaced}, expected ${exp.expect.utf8_replaced}`);
  if (exp.stats.row_groups !== rgs.length) throw new Error(`stats.row_groups ${exp.stats.row_groups} vs ${rgs.length}`);
  if (exp.stats.file_bytes !== buf.length) throw new Error(`stats.file_bytes ${exp.stats.file_bytes} vs ${buf.length}`);
  return `${rgs.length} row groups; pages, sizes, offsets, statistics, column_orders, metadata exact`;
}

async function checkDuckMeta(con, file, exp) {
  const r = await con.runAndReadAll(`SELECT row_group_id, row_group_num_rows, path_in_schema, compression, encodings,
    stats_null_count, stats_min_value, stats_max_value FROM parquet_metadata('${file}') ORDER BY row_group_id, column_id`);
  const codec = { none: 'UNCOMPRESSED', snappy: 'SNAPPY', zstd: 'ZSTD' }[exp.codec];
  const meta = r.getRowObjectsJS();
  // first row of every row group, for slicing the expected rows
  const starts = new Map();
  let acc = 0;
  for (const m of meta) {
    const g = Number(m.row_group_id);
    if (!starts.has(g)) { starts.set(g, acc); acc += Number(m.row_group_num_rows); }
  }
  let compared = 0;
  for (const m of meta) {
    if (m.compression !== codec) throw new Error(`parquet_metadata: ${m.path_in_schema} compression ${m.compression}`);
    const name = String(m.path_in_schema).split(',')[0].trim();
    if (exp.expect.dict_columns.includes(name) && !/DICTIONARY/.test(m.encodings)) throw new Error(`parquet_metadata: ${name} encodings ${m.encodings}`);
    if (m.stats_null_count === null) throw new Error(`parquet_metadata: ${name} has no null_count`);
    // DuckDB's own reading of the statistics must match the expected rows of this row group.
    const k = exp.columns.findIndex((c) => c.name === name);
    const col = exp.columns[k];
    const g = Number(m.row_group_id), start = starts.get(g);
    const e = expectedStats(col.type, exp.rows.slice(start, start + Number(m.row_group_num_rows)), k);
    if (Number(m.stats_null_count) !== e.nulls) throw new Error(`parquet_metadata: ${name} rg ${g} null_count ${m.stats_null_count}, expected ${e.nulls}`);
    if (e.min === null || col.type === 'timestamp') continue;
    let emin, emax;
    if (col.type === 'string' || col.type === 'list') {
      if (e.min.length > 128 || e.max.length > 128) continue; // truncated bounds are checked on the raw footer
      emin = e.min.toString(); emax = e.max.toString();
    } else if (col.type === 'boolean') {
      emin = String(e.min === 1n); emax = String(e.max === 1n);
    } else {
      emin = e.min.toString(); emax = e.max.toString();
    }
    if (m.stats_min_value !== emin || m.stats_max_value !== emax)
      throw new Error(`parquet_metadata: ${name} rg ${g} min/max ${JSON.stringify(m.stats_min_value)}/${JSON.stringify(m.stats_max_value)}, expected ${JSON.stringify(emin)}/${JSON.stringify(emax)}`);
    compared++;
  }
  const s = await con.runAndReadAll(`SELECT name, type, logical_type, converted_type, repetition_type, num_children FROM parquet_schema('${file}')`);
  const schema = s.getRowObjectsJS();
  let i = 1; // after the root
  const want = (cond, what) => { if (!cond) throw new Error(`parquet_schema: ${what}: ${JSON.stringify(schema[i], (k, v) => (typeof v === 'bigint' ? String(v) : v))}`); };
  for (const col of exp.columns) {
    const rep = col.optional ? 'OPTIONAL' : 'REQUIRED';
    if (col.type === 'list') {
      want(schema[i].name === col.name && schema[i].converted_type === 'LIST' && schema[i].repetition_type === rep, `${col.name} LIST group`);
      i++;
      want(schema[i].name === 'list' && schema[i].repetition_type === 'REPEATED', `${col.name} repeated group`);
      i++;
      want(schema[i].name === 'element' && schema[i].repetition_type === 'REQUIRED' && schema[i].converted_type === 'UTF8', `${col.name} element`);
    } else {
      want(schema[i].name === col.name && schema[i].repetition_type === rep, `${col.name} repetition`);
      if (col.type === 'string') want(schema[i].converted_type === 'UTF8' && /String/i.test(schema[i].logical_type), `${col.name} STRING/UTF8`);
      if (col.type === 'timestamp') want(schema[i].converted_type === 'TIMESTAMP_MICROS' && /MICROS=MicroSeconds/.test(schema[i].logical_type) && /isAdjustedToUTC=(1|true)/i.test(schema[i].logical_type), `${col.name} TIMESTAMP(UTC, MICROS)`);
    }
    i++;
  }
  return compared;
}

const wantTypes = { boolean: 'BOOLEAN', int32: 'INTEGER', int64: 'BIGINT', timestamp: 'TIMESTAMP WITH TIME ZONE', string: 'VARCHAR', list: 'VARCHAR[]' };

const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const names = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).filter((n) => !only.size || only.has(n)).sort();
if (!names.length) { console.log(`FAIL - no cases in ${dir}`); process.exit(1); }
for (const c of names) {
  const exp = JSON.parse(fs.readFileSync(path.join(dir, `${c}.json`), 'utf8'));
  const file = path.join(dir, `${c}.parquet`);
  const buf = fs.readFileSync(file);
  try { pass(c, checkFooter(c, buf, exp)); } catch (e) { fail(c, `footer/pages: ${e.message}`); }
  try {
    const types = await duckTypes(con, file);
    const want = exp.columns.map((col) => wantTypes[col.type]);
    if (JSON.stringify(types) !== JSON.stringify(want)) fail(c, `DuckDB types ${types} expected ${want}`);
    const nstats = await checkDuckMeta(con, file, exp);
    pass(c, `DuckDB parquet_metadata: codec, encodings, null_count, ${nstats} min/max pairs as expected`);
    compareTable(c, 'duckdb', exp, await readDuck(con, file, exp));
  } catch (e) { fail(c, `duckdb: ${e.message}`); }
  try {
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
    const md = parquetMetadata(ab);
    if (!/^skyspool version /.test(md.created_by)) fail(c, `hyparquet created_by ${md.created_by}`);
    compareTable(c, 'hyparquet', exp, await readHy(ab, exp));
  } catch (e) { fail(c, `hyparquet: ${e.message}`); }
  try {
    const { rows, schema } = readArrow(new Uint8Array(buf), exp);
    for (const [k, col] of exp.columns.entries()) {
      const t = String(schema.fields[k].type);
      const ok = { boolean: /^Bool/, int32: /^Int32/, int64: /^Int64/, timestamp: /^Timestamp<MICROSECOND, (UTC|\+00:00)>/, string: /^Utf8|^LargeUtf8/, list: /^List<.*Utf8/ }[col.type];
      if (!ok.test(t)) fail(c, `arrow-rs type of ${col.name}: ${t}`);
    }
    compareTable(c, 'arrow-rs', exp, rows);
  } catch (e) { fail(c, `arrow-rs: ${e.message}`); }
}
console.log(`${passes} passed, ${fails} failed`);
process.exit(fails ? 1 : 0);
