// archive_check: verifies a directory written by `skyspool convert` (or the DataWriter)
// against the JSONL it came from, with expected values computed here, in JavaScript, from
// the JSON itself. Nothing of skyspool's C mapping is reused: this file is an independent
// statement of docs/SCHEMA.md.
//
//   node archive_check.mjs --dir DIR --jsonl IN.jsonl [--jsonl more.jsonl ...]
//        [--full]          compare every column of every row, through DuckDB, hyparquet and
//                          arrow-rs (parquet-wasm)
//        [--keep-other]    the conversion kept other collections (type=other)
//        [--codec zstd]    the codec every column chunk must declare (default zstd)
//        [--prune]         prove that a filter on `time` skips row groups
//        [--expect-rejects N]  lines the checker must find unconvertible (default 0)
//
// Always checked, with DuckDB over the whole directory:
//   - read_parquet('DIR/**/*.parquet', hive_partitioning=true) returns exactly the input
//     events, each dedup key's first event once (duplicates are written once): the multiset of (did, collection, rkey, rev, operation, time_us) (identity
//     and account: (did, kind, seq, time_us)) equals the input's, and the counts per
//     type x (year, month, day, hour) equal the input's;
//   - every file's rows lie in the file's partition hour;
//   - year, month, day, hour are typed as integers (no type hints), `hour < H` and `hour + 1`
//     work, and a range filter on hour makes DuckDB scan only the matching files; the same
//     through polars (scanParquet, hivePartitioning), whose filter must not open the others;
//   - parquet_metadata(): the declared codec on every column chunk, dictionary encoding on
//     the low-cardinality columns, min/max statistics on time, time_us and did;
//   - key/value metadata: skyspool.schema_version = 2 and skyspool.type = the path's type;
//   - bloom filters: every chunk of did, subject_uri, subject, reply_root_uri, reply_parent_uri
//     holding a value has one and no other column does; DuckDB's parquet_bloom_probe() finds
//     values of the input (from the JSON) in their row group and rejects absent ones (<= 3 %
//     false positives, sized for 1 %); with --prune, a lookup by did on a copy whose row groups
//     without that did are overwritten with 0xFF still returns the JSON's rows.
// Prints "ok - ..." / "FAIL - ..." lines; exits 1 on any failure.
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pl from 'nodejs-polars';
import { parquetReadObjects, parquetMetadata } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { readParquet } from 'parquet-wasm';
import { tableFromIPC } from 'apache-arrow';

// ---- arguments --------------------------------------------------------------------------
const opt = { jsonl: [], codec: 'zstd', full: false, keepOther: false, prune: false, expectRejects: 0 };
{
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    switch (a[i]) {
      case '--dir': opt.dir = a[++i]; break;
      case '--jsonl': opt.jsonl.push(a[++i]); break;
      case '--codec': opt.codec = a[++i]; break;
      case '--full': opt.full = true; break;
      case '--keep-other': opt.keepOther = true; break;
      case '--prune': opt.prune = true; break;
      case '--expect-rejects': opt.expectRejects = Number(a[++i]); break; // -1: any number
      default: console.error(`archive_check: unknown argument ${a[i]}`); process.exit(2);
    }
  }
  if (!opt.dir || opt.jsonl.length === 0) {
    console.error('usage: node archive_check.mjs --dir DIR --jsonl IN.jsonl [...] [--full] [--prune]');
    process.exit(2);
  }
}

let passes = 0, fails = 0;
const pass = (m) => { passes++; console.log(`ok   - ${m}`); };
const fail = (m) => { fails++; console.log(`FAIL - ${m}`); };
const check = (cond, m) => (cond ? pass(m) : fail(m));

// ---- the schema, as documented ----------------------------------------------------------
const COLUMNS = [
  'did', 'time_us', 'time', 'kind', 'operation', 'collection', 'rkey', 'rev', 'cid', 'record',
  'created_at', 'text', 'langs', 'reply_root_uri', 'reply_root_cid', 'reply_parent_uri', 'reply_parent_cid',
  'embed_type', 'embed_uri', 'mentions', 'links', 'tags', 'labels', 'subject_uri', 'subject_cid', 'via_uri',
  'via_cid', 'subject', 'seq', 'relay_time', 'relay_time_text', 'handle', 'active', 'status', 'claimed_time',
];
const TIMESTAMPS = new Set(['time', 'created_at', 'relay_time', 'claimed_time']);
const INT64S = new Set(['time_us', 'seq']);
const BLOOM_COLUMNS = ['did', 'subject_uri', 'subject', 'reply_root_uri', 'reply_parent_uri'];
const DICT_COLUMNS = ['kind', 'operation', 'collection', 'embed_type', 'langs, list, element', 'status',
  'subject_uri', 'subject_cid', 'reply_root_uri', 'reply_root_cid', 'embed_uri'];
const TYPE_OF_COLLECTION = {
  'app.bsky.feed.post': 'post', 'app.bsky.feed.like': 'like', 'app.bsky.feed.repost': 'repost',
  'app.bsky.graph.follow': 'follow', 'app.bsky.graph.block': 'block',
};

// ---- expected values, from the JSON ------------------------------------------------------
const isObj = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v) => (typeof v === 'string' ? v : null);

// RFC 3339 date-time -> microseconds since the epoch as a BigInt, or null.
function rfc3339(s) {
  if (typeof s !== 'string' || s.length > 64) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const dim = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (mo < 1 || mo > 12 || d < 1 || d > dim[mo - 1] || h > 23 || mi > 59 || se > 60) return null;
  let off = 0;
  if (m[9]) {
    const oh = Number(m[10]), om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    off = (oh * 60 + om) * 60 * (m[9] === '-' ? -1 : 1);
  }
  const dt = new Date(0);
  dt.setUTCFullYear(y, mo - 1, d); // setUTCFullYear keeps years 0..99 literal
  dt.setUTCHours(0, 0, 0, 0);
  const secs = BigInt(dt.getTime() / 1000) + BigInt(h * 3600 + mi * 60 + se - off);
  const frac = m[7] ? BigInt((m[7].slice(1) + '000000').slice(0, 6)) : 0n;
  return secs * 1000000n + frac;
}

function strList(v) {
  if (!Array.isArray(v)) return null;
  return v.filter((x) => typeof x === 'string');
}

function facetLists(facets) {
  if (!Array.isArray(facets)) return [null, null, null];
  const mentions = [], links = [], tags = [];
  for (const f of facets) {
    if (!isObj(f) || !Array.isArray(f.features)) continue;
    for (const ft of f.features) {
      if (!isObj(ft)) continue;
      const t = ft.$type;
      if (t === 'app.bsky.richtext.facet#mention' && typeof ft.did === 'string') mentions.push(ft.did);
      else if (t === 'app.bsky.richtext.facet#link' && typeof ft.uri === 'string') links.push(ft.uri);
      else if (t === 'app.bsky.richtext.facet#tag' && typeof ft.tag === 'string') tags.push(ft.tag);
    }
  }
  return [mentions, links, tags];
}

function embedCols(e) {
  if (!isObj(e)) return [null, null];
  const type = str(e.$type);
  let uri = null;
  if (type === 'app.bsky.embed.external' && isObj(e.external)) uri = str(e.external.uri);
  else if (type === 'app.bsky.embed.record' && isObj(e.record)) uri = str(e.record.uri);
  else if (type === 'app.bsky.embed.recordWithMedia' && isObj(e.record) && isObj(e.record.record))
    uri = str(e.record.record.uri);
  return [type, uri];
}

const ref = (r, k) => (isObj(r) && isObj(r[k]) ? r[k] : null);

// The event decoder's acceptance rules, restated from the Jetstream v1 shape (not from the
// C code): which lines must be rejected, and with which reason name.
const utf8 = new TextDecoder('utf-8', { fatal: true });
const MAX_LINE = 2 * 1024 * 1024;
const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function hasLoneSurrogate(v) {
  if (typeof v === 'string') return LONE.test(v);
  if (Array.isArray(v)) return v.some(hasLoneSurrogate);
  if (isObj(v)) return Object.entries(v).some(([k, x]) => LONE.test(k) || hasLoneSurrogate(x));
  return false;
}
function shapeError(ev, line) {
  if (!isObj(ev)) return 'wrong_type';
  const needStr = (o, k, nonempty) => {
    if (!(k in o)) return 'missing_field';
    if (typeof o[k] !== 'string') return 'wrong_type';
    return nonempty && o[k] === '' ? 'bad_value' : null;
  };
  const needUint = (o, k) => {
    if (!(k in o)) return 'missing_field';
    if (typeof o[k] !== 'number' || !Number.isInteger(o[k])) return 'wrong_type';
    return o[k] < 0 ? 'bad_value' : null;
  };
  const optStr = (o, k) => (o[k] === undefined || o[k] === null || typeof o[k] === 'string' ? null : 'wrong_type');
  let e = needStr(ev, 'did', true) ?? needUint(ev, 'time_us');
  if (e) return e;
  let kind = ev.kind;
  if (kind === undefined && ev.type !== undefined) kind = { com: 'commit', id: 'identity', acc: 'account' }[ev.type] ?? '?';
  if (kind === undefined) return 'missing_field';
  if (typeof kind !== 'string') return 'wrong_type';
  if (!['commit', 'identity', 'account'].includes(kind)) return 'bad_value';
  const p = ev[kind];
  if (p === undefined) return 'missing_field';
  if (!isObj(p)) return 'wrong_type';
  if (kind === 'commit') {
    let op = p.operation;
    if (op === undefined && p.type !== undefined) op = { c: 'create', u: 'update', d: 'delete' }[p.type] ?? '?';
    if (op === undefined) return 'missing_field';
    if (typeof op !== 'string') return 'wrong_type';
    if (!['create', 'update', 'delete'].includes(op)) return 'bad_value';
    e = needStr(p, 'rev', true) ?? needStr(p, 'collection', true) ?? needStr(p, 'rkey', true);
    if (e || op === 'delete') return e;
    if (!('record' in p)) return 'missing_field';
    if (!isObj(p.record)) return 'wrong_type';
    return needStr(p, 'cid', true);
  }
  if (kind === 'account') {
    if (!('active' in p)) return 'missing_field';
    if (typeof p.active !== 'boolean') return 'wrong_type';
  }
  e = needStr(p, 'did', true) ?? needUint(p, 'seq') ?? needStr(p, 'time', false);
  if (e) return e;
  return kind === 'identity' ? optStr(p, 'handle') : optStr(p, 'status');
}

// An input line (bytes) -> { type, row, line } or { reject: reason }.
function expected(bytes) {
  if (bytes.length > MAX_LINE) return { reject: 'too_large' };
  let line, ev;
  try { line = utf8.decode(bytes); } catch { return { reject: 'bad_utf8' }; }
  try { ev = JSON.parse(line); } catch { return { reject: 'not_json' }; }
  if (hasLoneSurrogate(ev)) return { reject: 'bad_utf8' };
  const bad = shapeError(ev, line);
  if (bad) return { reject: bad };
  // time_us beyond 2^53 cannot be a JS number: read its digits from the text
  const tm = /"time_us"\s*:\s*(\d+)/.exec(line);
  const timeUs = tm ? BigInt(tm[1]) : BigInt(ev.time_us);
  if (timeUs > 253402300799999999n) return { reject: 'time_out_of_range' };
  const kind = ev.kind ?? { com: 'commit', id: 'identity', acc: 'account' }[ev.type];
  const row = Object.fromEntries(COLUMNS.map((c) => [c, null]));
  row.did = ev.did;
  row.time_us = timeUs;
  row.time = timeUs;
  row.kind = kind;
  let type;
  if (kind === 'commit') {
    const c = ev.commit;
    type = TYPE_OF_COLLECTION[c.collection] ?? 'other';
    const op = c.operation ?? { c: 'create', u: 'update', d: 'delete' }[c.type];
    Object.assign(row, { operation: op, collection: c.collection, rkey: c.rkey, rev: c.rev });
    if (typeof c.time === 'string') row.claimed_time = rfc3339(c.time); // firehose: the frame's claimed time
    const del = op === 'delete';
    row.cid = del ? null : c.cid;
    const rec = del ? null : c.record;
    row.record = rec; // compared structurally and verbatim below
    if (rec && type !== 'other') {
      row.created_at = rfc3339(rec.createdAt);
      if (type === 'post') {
        row.text = str(rec.text);
        row.langs = strList(rec.langs);
        const reply = isObj(rec.reply) ? rec.reply : null;
        const root = ref(reply, 'root'), parent = ref(reply, 'parent');
        row.reply_root_uri = root ? str(root.uri) : null;
        row.reply_root_cid = root ? str(root.cid) : null;
        row.reply_parent_uri = parent ? str(parent.uri) : null;
        row.reply_parent_cid = parent ? str(parent.cid) : null;
        [row.embed_type, row.embed_uri] = embedCols(rec.embed);
        [row.mentions, row.links, row.tags] = facetLists(rec.facets);
        row.labels = isObj(rec.labels) && Array.isArray(rec.labels.values)
          ? rec.labels.values.filter((v) => isObj(v) && typeof v.val === 'string').map((v) => v.val) : null;
      } else if (type === 'like' || type === 'repost') {
        const s = ref(rec, 'subject'), v = ref(rec, 'via');
        row.subject_uri = s ? str(s.uri) : null;
        row.subject_cid = s ? str(s.cid) : null;
        row.via_uri = v ? str(v.uri) : null;
        row.via_cid = v ? str(v.cid) : null;
      } else {
        row.subject = str(rec.subject);
      }
    }
  } else {
    type = kind;
    const p = ev[kind];
    row.seq = BigInt(p.seq);
    row.relay_time_text = p.time;
    row.relay_time = rfc3339(p.time);
    row.claimed_time = row.relay_time;
    if (type === 'identity') row.handle = str(p.handle);
    else {
      row.active = p.active;
      row.status = str(p.status);
    }
  }
  return { type, row, line };
}

function hourOf(us) {
  const d = new Date(Number(us / 1000n));
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours()];
}
const keyOf = (r, type) => (type === 'identity' || type === 'account'
  ? `${type}|${r.did}|${r.kind}|${r.seq}|${r.time_us}`
  : `${type}|${r.did}|${r.collection}|${r.rkey}|${r.rev}|${r.operation}|${r.time_us}`);

// The writer's dedup key (ss_event_dedup_key): commits (did, collection, rkey, rev, operation),
// identity and account (did, seq, kind); time_us is not part of it.
const dedupKeyOf = (r, type) => (type === 'identity' || type === 'account'
  ? `${r.did}|${r.seq}|${r.kind}`
  : `${r.did}|${r.collection}|${r.rkey}|${r.rev}|${r.operation}`);
const seenKeys = new Set();
const exp = [];
const wantRejects = new Map(); // "input|offset" -> reason
for (const f of opt.jsonl) {
  const buf = fs.readFileSync(f);
  let off = 0;
  while (off < buf.length) {
    let nl = buf.indexOf(10, off);
    if (nl < 0) nl = buf.length;
    let end = nl;
    if (end > off && buf[end - 1] === 13) end--;
    const bytes = buf.subarray(off, end);
    if (bytes.length > 0 && !/^[ \t]*$/.test(bytes.toString('latin1'))) {
      const e = expected(bytes);
      if (e.reject) wantRejects.set(`${path.resolve(f)}|${off}`, e.reject);
      else if (e.type !== 'other' || opt.keepOther) {
        // convert (like the DataWriter) writes the first event of each dedup key once
        const dk = dedupKeyOf(e.row, e.type);
        if (!seenKeys.has(dk)) {
          seenKeys.add(dk);
          exp.push(e);
        }
      }
    }
    off = nl + 1;
  }
}
const rejects = wantRejects.size;
check(opt.expectRejects < 0 || rejects === opt.expectRejects,
  `input has ${rejects} unconvertible lines${opt.expectRejects >= 0 ? ` (expected ${opt.expectRejects})` : ''}`);
// the rejects files name exactly those lines, with the same reasons
{
  const have = new Map();
  const rdir = path.join(opt.dir, '_rejects');
  if (fs.existsSync(rdir)) {
    for (const f of fs.readdirSync(rdir).filter((n) => n.endsWith('.jsonl') && !n.startsWith('.'))) {
      for (const l of fs.readFileSync(path.join(rdir, f), 'utf8').split('\n')) {
        if (!l) continue;
        const r = JSON.parse(l);
        have.set(`${path.resolve(r.input)}|${r.offset}`, r.reason);
      }
    }
  }
  let diff = 0;
  const shown = [];
  for (const [k, why] of wantRejects) if (have.get(k) !== why) { diff++; if (shown.length < 4) shown.push(`${k} want ${why} got ${have.get(k)}`); }
  for (const [k, why] of have) if (!wantRejects.has(k)) { diff++; if (shown.length < 4) shown.push(`${k} want accepted, got ${why}`); }
  check(diff === 0, `_rejects lists exactly the ${wantRejects.size} unconvertible lines with their reasons${diff ? `: ${diff} differ, e.g. ${shown.join('; ')}` : ''}`);
}

// ---- DuckDB over the whole directory --------------------------------------------------------
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJS();
const dirGlob = `${opt.dir.replace(/'/g, "''")}/**/*.parquet`;
const src = `read_parquet('${dirGlob}', hive_partitioning = true)`;

const keysSql = `SELECT type, year, month, day, hour, did, kind, collection, rkey, rev, operation, time_us, seq FROM ${src}`;
let got;
try { got = await q(keysSql); } catch (e) { fail(`DuckDB reads the directory: ${e.message}`); finish(); }
check(got.length === exp.length, `DuckDB row count ${got.length} equals the input's ${exp.length} events`);

const tally = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);
const want = new Map(), have = new Map(), wantPart = new Map(), havePart = new Map();
for (const e of exp) {
  tally(want, keyOf(e.row, e.type));
  tally(wantPart, `${e.type}|${hourOf(e.row.time_us).join('-')}`);
}
for (const r of got) {
  const row = { ...r, time_us: BigInt(r.time_us), seq: r.seq === null ? null : BigInt(r.seq) };
  tally(have, keyOf(row, r.type));
  tally(havePart, `${r.type}|${[r.year, r.month, r.day, r.hour].map(Number).join('-')}`);
}
function sameCounts(a, b, what) {
  let diff = 0;
  const shown = [];
  for (const [k, n] of a) if (b.get(k) !== n) { diff++; if (shown.length < 5) shown.push(`${k}: want ${n} got ${b.get(k) ?? 0}`); }
  for (const [k, n] of b) if (!a.has(k)) { diff++; if (shown.length < 5) shown.push(`${k}: want 0 got ${n}`); }
  check(diff === 0, `${what} (${a.size} distinct)${diff ? `: ${diff} differ, e.g. ${shown.join('; ')}` : ''}`);
}
sameCounts(want, have, 'multiset of event keys equals the input\'s');
sameCounts(wantPart, havePart, 'rows per type x hour partition equal the input\'s');

// every file's rows lie in its partition hour
{
  const rows = await q(`SELECT filename, any_value(year) AS y, any_value(month) AS mo, any_value(day) AS d,
      any_value(hour) AS h, min(time_us) AS lo, max(time_us) AS hi, count(*) AS n FROM
      read_parquet('${dirGlob}', hive_partitioning = true, filename = true) GROUP BY filename`);
  let bad = 0;
  for (const r of rows) {
    const lo = hourOf(BigInt(r.lo)).join('-'), hi = hourOf(BigInt(r.hi)).join('-');
    const p = [r.y, r.mo, r.d, r.h].map(Number).join('-');
    if (lo !== p || hi !== p) { bad++; if (bad < 4) console.log(`  ${r.filename}: rows ${lo}..${hi}, path ${p}`); }
  }
  check(rows.length > 0 && bad === 0, `every file's rows lie in its partition hour (${rows.length} files)`);
}

// partition columns: typed as integers by DuckDB with no hints (unpadded values: DuckDB reads
// zero-padded ones such as month=08 as VARCHAR), and range filters on them prune files
{
  const types = await q(`DESCRIBE SELECT year, month, day, hour FROM ${src}`);
  const notInt = types.filter((t) => !/^(BIGINT|INTEGER|SMALLINT|TINYINT|HUGEINT)$/.test(t.column_type));
  check(types.length === 4 && notInt.length === 0,
    `DuckDB types year, month, day, hour as integers (${types.map((t) => `${t.column_name} ${t.column_type}`).join(', ')})`);
  const hours = [...new Set(got.map((r) => Number(r.hour)))].sort((a, b) => a - b);
  if (notInt.length === 0 && hours.length >= 2) {
    const hmax = hours[hours.length - 1];
    const files = [];
    const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.endsWith('.parquet') && !e.name.startsWith('.')) files.push(path.join(d, e.name)); } };
    walk(opt.dir);
    const wantFiles = files.filter((f) => Number(/\/hour=(\d+)\//.exec(f)[1]) < hmax).length;
    const wantRows = got.filter((r) => Number(r.hour) < hmax).length;
    const n = await q(`SELECT count(*)::BIGINT AS n, max(hour + 1) AS h1 FROM ${src} WHERE hour < ${hmax}`);
    check(Number(n[0].n) === wantRows && Number(n[0].h1) === hours[hours.length - 2] + 1,
      `WHERE hour < ${hmax} counts ${n[0].n} rows (expected ${wantRows}), hour + 1 is arithmetic`);
    const plan = (await q(`EXPLAIN ANALYZE SELECT count(*) FROM ${src} WHERE hour BETWEEN 0 AND ${hmax - 1}`))
      .map((r) => r.explain_value).join('\n');
    const m = /Scanning Files:\s*([\d,]+)\/([\d,]+)/.exec(plan);
    const [scan, total] = m ? [Number(m[1].replace(/,/g, '')), Number(m[2].replace(/,/g, ''))] : [-1, -1];
    check(scan === wantFiles && total === files.length && scan < total,
      `hour BETWEEN 0 AND ${hmax - 1} prunes partitions: DuckDB scans ${scan} of ${total} files (expected ${wantFiles} of ${files.length})`);
  }
}

// the same for polars (nodejs-polars, arrow-rs underneath): scanParquet with hive partitioning
// and no schema hints types the four as integers, `hour < H` and `hour + 1` work, and the
// filter prunes partitions: over a copy whose files of hours >= H are garbage, the filtered
// query still counts the JSON's rows (it never opened them) while an unfiltered one fails
{
  const hours = [...new Set(got.map((r) => Number(r.hour)))].sort((a, b) => a - b);
  let schema = null, err = null;
  try {
    const s = pl.scanParquet(`${opt.dir}/**/*.parquet`, { hivePartitioning: true }).select('year', 'month', 'day', 'hour').limit(1).collectSync().schema;
    schema = Object.entries(s).map(([k, v]) => [k, String(v).replace(/^DataType\((.*)\)$/, '$1')]);
  } catch (e) { err = e.message; }
  const intTypes = schema && schema.every(([, t]) => /^U?Int(8|16|32|64)$/.test(t));
  check(schema !== null && schema.length === 4 && intTypes,
    `polars types year, month, day, hour as integers (${err ?? schema.map(([k, t]) => `${k} ${t}`).join(', ')})`);
  // every column of every file, bloom filters and all, decodes in polars
  let height = null;
  try { height = pl.scanParquet(`${opt.dir}/**/*.parquet`, { hivePartitioning: true }).collectSync().height; } catch (e) { height = e.message; }
  check(height === got.length, `polars reads every column of every file: ${height} rows (DuckDB: ${got.length})`);
  if (intTypes && hours.length >= 2) {
    const hmax = hours[hours.length - 1];
    const wantRows = got.filter((r) => Number(r.hour) < hmax).length;
    const copy = fs.mkdtempSync(path.join(path.dirname(path.resolve(opt.dir)), 'polars-prune-'));
    const walk = (d, rel) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const from = path.join(d, e.name), to = path.join(copy, rel, e.name);
      if (e.isDirectory()) { if (!e.name.startsWith('_')) { fs.mkdirSync(to, { recursive: true }); walk(from, path.join(rel, e.name)); } }
      else if (e.name.endsWith('.parquet') && !e.name.startsWith('.')) {
        const h = Number(/\/hour=(\d+)\//.exec(from)[1]);
        if (h < hmax) fs.symlinkSync(path.resolve(from), to); else fs.writeFileSync(to, 'not a parquet file');
      } } };
    walk(opt.dir, '');
    const lf = () => pl.scanParquet(`${copy}/**/*.parquet`, { hivePartitioning: true });
    let r = null, e1 = null;
    try {
      r = lf().filter(pl.col('hour').lt(hmax)).select(pl.col('did').count().alias('n'), pl.col('hour').add(1).max().alias('h1')).collectSync().toRecords()[0];
    } catch (e) { e1 = e.message; }
    check(r !== null && Number(r.n) === wantRows && Number(r.h1) === hours[hours.length - 2] + 1,
      `polars: hour < ${hmax} counts ${r ? r.n : e1} rows (expected ${wantRows}) without opening the other partitions' files, hour + 1 is arithmetic`);
    let whole = 'succeeded';
    try { lf().select(pl.col('did').count()).collectSync(); } catch (e) { whole = 'failed'; }
    check(whole === 'failed', `polars: the same copy read without the filter fails (${whole}), so the pruned files really were unreadable`);
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

// sorting_columns: a row group that claims time_us (column 1) and time (2) ascending really is
// in that order; created_by names the version and build
{
  const files = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    if (e.isDirectory()) walk(path.join(d, e.name));
    else if (e.name.endsWith('.parquet') && !e.name.startsWith('.')) files.push(path.join(d, e.name)); } };
  walk(opt.dir);
  let claims = 0, groups = 0, lies = 0, badBy = 0;
  for (const f of files) {
    const b = fs.readFileSync(f);
    const md = parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    if (!/^skyspool version \d+\.\d+\.\d+ \(build ([0-9a-f]{7,}|unknown)\)$/.test(md.created_by)) badBy++;
    const rows = await q(`SELECT time_us FROM read_parquet('${f.replace(/'/g, "''")}') ORDER BY file_row_number`);
    let start = 0;
    for (const rg of md.row_groups) {
      const n = Number(rg.num_rows);
      groups++;
      const sc = (rg.sorting_columns || []).map((c) => c.column_idx).sort().join(',');
      let sorted = true;
      for (let i = start + 1; i < start + n; i++) if (BigInt(rows[i].time_us) < BigInt(rows[i - 1].time_us)) sorted = false;
      if (sc === '1,2') { claims++; if (!sorted) lies++; } else if (sc !== '') lies++;
      start += n;
    }
  }
  check(lies === 0, `sorting_columns: ${claims} of ${groups} row groups claim time_us/time ascending, and every claim is true`);
  check(badBy === 0, `created_by is "skyspool version X.Y.Z (build COMMIT)" in every file`);
  if (opt.prune) check(claims === groups, `time-ordered input: every row group claims its sort order (${claims}/${groups})`);
}

// metadata: codec, dictionary encoding, statistics
{
  const md = await q(`SELECT file_name, row_group_id, path_in_schema AS col, compression, encodings,
      stats_min_value AS stats_min, stats_max_value AS stats_max, stats_null_count, num_values
      FROM parquet_metadata('${dirGlob}')`);
  const codec = opt.codec.toUpperCase() === 'NONE' ? 'UNCOMPRESSED' : opt.codec.toUpperCase();
  const badCodec = md.filter((r) => r.compression !== codec);
  check(md.length > 0 && badCodec.length === 0,
    `every column chunk declares ${codec} (${md.length} chunks${badCodec.length ? `, ${badCodec.length} others e.g. ${badCodec[0].compression}` : ''})`);
  for (const c of DICT_COLUMNS) {
    // chunks holding at least one value (identity/account files have no operation, ...)
    const chunks = md.filter((r) => r.col === c && BigInt(r.stats_null_count) < BigInt(r.num_values));
    const dict = chunks.filter((r) => /DICTIONARY/.test(r.encodings));
    if (chunks.length === 0 && !['kind', 'operation', 'collection'].includes(c)) continue; // no values here
    check(chunks.length > 0 && dict.length === chunks.length, `${c}: dictionary-encoded in ${dict.length}/${chunks.length} chunks`);
  }
  for (const c of ['time', 'time_us', 'did']) {
    const chunks = md.filter((r) => r.col === c);
    const withStats = chunks.filter((r) => r.stats_min !== null && r.stats_max !== null && r.stats_null_count !== null);
    check(chunks.length > 0 && withStats.length === chunks.length, `${c}: min/max/null_count statistics in ${withStats.length}/${chunks.length} chunks`);
  }
  const kv = await q(`SELECT file_name, decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${dirGlob}')`);
  const files = [...new Set(md.map((r) => r.file_name))];
  let badKv = 0;
  for (const f of files) {
    const m = Object.fromEntries(kv.filter((r) => r.file_name === f).map((r) => [r.k, r.v]));
    const t = /\/type=([a-z]+)\//.exec(f)?.[1];
    if (m['skyspool.schema_version'] !== '2' || m['skyspool.type'] !== t) badKv++;
  }
  check(files.length > 0 && badKv === 0, `key/value metadata: schema_version 2 and the path's type in ${files.length - badKv}/${files.length} files`);
}

// bloom filters: where they are, that DuckDB's probe finds present values and rejects absent ones
{
  const md = await q(`SELECT file_name, row_group_id, row_group_num_rows AS n, path_in_schema AS col,
      stats_null_count, num_values, bloom_filter_offset, bloom_filter_length FROM parquet_metadata('${dirGlob}')`);
  const holding = md.filter((r) => BigInt(r.stats_null_count) < BigInt(r.num_values));
  const want = holding.filter((r) => BLOOM_COLUMNS.includes(r.col));
  const have = want.filter((r) => r.bloom_filter_offset !== null && Number(r.bloom_filter_length) > 0);
  const stray = md.filter((r) => !BLOOM_COLUMNS.includes(r.col) && r.bloom_filter_offset !== null);
  check(want.length > 0 && have.length === want.length && stray.length === 0,
    `bloom filters on ${have.length}/${want.length} chunks of ${BLOOM_COLUMNS.join(', ')} holding values, none elsewhere (${stray.length})`);
  // present values: the input's own values, probed in the row group that holds them
  const files = [...new Set(md.map((r) => r.file_name))];
  let probes = 0, missed = 0, absentProbes = 0, absentPass = 0;
  for (const f of files.slice(0, 40)) {
    const fq = f.replace(/'/g, "''");
    const sizes = [...new Set(md.filter((r) => r.file_name === f).map((r) => `${r.row_group_id}:${r.n}`))]
      .map((x) => x.split(':').map(Number)).sort((a, b) => a[0] - b[0]);
    const rgOf = (row) => { let s = 0; for (const [id, n] of sizes) { if (row < s + n) return id; s += n; } return -1; };
    for (const col of BLOOM_COLUMNS) {
      if (!want.some((r) => r.file_name === f && r.col === col)) continue;
      const rows = await q(`SELECT ${col} AS v, file_row_number AS i FROM read_parquet('${fq}', file_row_number = true)
          WHERE ${col} IS NOT NULL USING SAMPLE 8 ROWS (reservoir, 42)`);
      for (const r of rows) {
        const lit = String(r.v).replace(/'/g, "''");
        const pr = await q(`SELECT row_group_id, bloom_filter_excludes AS x FROM parquet_bloom_probe('${fq}', '${col}', '${lit}')`);
        const rg = rgOf(Number(r.i));
        probes++;
        if (!pr.some((p) => Number(p.row_group_id) === rg && p.x === false)) missed++;
      }
      for (let k = 0; k < 4; k++) {
        const pr = await q(`SELECT bloom_filter_excludes AS x FROM parquet_bloom_probe('${fq}', '${col}', 'at://did:plc:absent${k}${col}/x')`);
        absentProbes += pr.length;
        absentPass += pr.filter((p) => p.x === false).length;
      }
    }
  }
  check(probes > 0 && missed === 0, `parquet_bloom_probe finds ${probes - missed}/${probes} present values in their row group`);
  check(absentProbes > 0 && absentPass * 100 <= absentProbes * 3,
    `parquet_bloom_probe rejects absent values: ${absentPass}/${absentProbes} row-group probes pass (sized for 1 %)`);
}

// ---- --full: every column of every row, through DuckDB and through hyparquet ----------------
function normalize(v, col) {
  if (v === undefined || v === null) return null;
  if (col === 'record') return v;
  if (TIMESTAMPS.has(col) || INT64S.has(col)) {
    if (v instanceof Date) return `date:${v.getTime()}`; // would lose µs: flagged as a mismatch
    return BigInt(v).toString();
  }
  if (Array.isArray(v)) return v.map(String);
  if (v && typeof v === 'object' && Array.isArray(v.items)) return v.items.map(String);
  return v;
}
const canon = (row) => JSON.stringify(COLUMNS.map((c) => (c === 'record' ? null : normalize(row[c], c))));

function compareRows(label, actualRows) {
  // group expected and actual by event key; within a key compare canonical forms as multisets
  const byKey = new Map();
  for (const e of exp) {
    const k = keyOf(e.row, e.type);
    if (!byKey.has(k)) byKey.set(k, { want: [], have: [] });
    byKey.get(k).want.push(e);
  }
  let mism = 0, recordBad = 0, extra = 0;
  const shown = [];
  for (const { row, type } of actualRows) {
    const k = keyOf({ ...row, time_us: BigInt(row.time_us), seq: row.seq == null ? null : BigInt(row.seq) }, type);
    const g = byKey.get(k);
    if (!g) { extra++; continue; }
    g.have.push(row);
  }
  for (const [k, g] of byKey) {
    if (g.want.length !== g.have.length) { mism++; if (shown.length < 3) shown.push(`${k}: ${g.want.length} vs ${g.have.length} rows`); continue; }
    const w = g.want.map((e) => canon(e.row)).sort();
    const h = g.have.map((r) => canon(r)).sort();
    for (let i = 0; i < w.length; i++) {
      if (w[i] !== h[i]) {
        mism++;
        if (shown.length < 3) {
          const a = JSON.parse(w[i]), b = JSON.parse(h[i]);
          const cols = COLUMNS.filter((c, j) => JSON.stringify(a[j]) !== JSON.stringify(b[j]));
          shown.push(`${k}: ${cols.map((c) => `${c} want ${JSON.stringify(a[COLUMNS.indexOf(c)])} got ${JSON.stringify(b[COLUMNS.indexOf(c)])}`).join(', ')}`);
        }
      }
    }
    // record: byte-identical to the input's record text, and the same JSON value
    for (let i = 0; i < g.want.length; i++) {
      const e = g.want[i], r = g.have[i];
      if (e.row.record === null) { if (r.record !== null && r.record !== undefined) recordBad++; continue; }
      if (typeof r.record !== 'string' || !e.line.includes(r.record) ||
          JSON.stringify(JSON.parse(r.record)) !== JSON.stringify(e.row.record)) recordBad++;
    }
  }
  check(extra === 0 && mism === 0, `${label}: all ${COLUMNS.length - 1} typed columns equal the JSON's for ${actualRows.length} rows${mism || extra ? ` (${mism} mismatches, ${extra} unexpected; ${shown.join(' | ')})` : ''}`);
  check(recordBad === 0, `${label}: record is the input's record text verbatim in every row${recordBad ? ` (${recordBad} differ)` : ''}`);
}

if (opt.full) {
  const sel = COLUMNS.map((c) => (TIMESTAMPS.has(c) ? `epoch_us("${c}") AS "${c}"` : `"${c}"`)).join(', ');
  const rows = await q(`SELECT type, ${sel} FROM ${src}`);
  compareRows('DuckDB', rows.map((r) => ({ row: r, type: r.type })));

  const files = [];
  const walk = (d) => { for (const n of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, n.name);
    if (n.isDirectory()) walk(p); else if (n.name.endsWith('.parquet') && !n.name.startsWith('.')) files.push(p);
  } };
  walk(opt.dir);
  const hrows = [];
  for (const f of files) {
    const type = /\/type=([a-z]+)\//.exec(f)[1];
    const b = fs.readFileSync(f);
    const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    const objs = await parquetReadObjects({ file, compressors, parsers: { timestampFromMicroseconds: (v) => v } });
    for (const o of objs) hrows.push({ row: o, type });
  }
  compareRows('hyparquet', hrows);

  // arrow-rs (parquet-wasm), read column by column from the Arrow table; 64-bit integers and
  // timestamps from the raw value buffers, so no precision is lost on the way
  const arows = [];
  for (const f of files) {
    const type = /\/type=([a-z]+)\//.exec(f)[1];
    const table = tableFromIPC(readParquet(new Uint8Array(fs.readFileSync(f))).intoIPCStream());
    const rows = Array.from({ length: table.numRows }, () => ({}));
    for (const col of COLUMNS) {
      const vec = table.getChild(col);
      if (!vec) { for (const r of rows) r[col] = '<missing column>'; continue; }
      let i = 0;
      for (const d of vec.data) {
        for (let j = 0; j < d.length; j++, i++) {
          if (!d.getValid(j)) rows[i][col] = null;
          else if (TIMESTAMPS.has(col) || INT64S.has(col)) rows[i][col] = d.values[d.offset + j];
          else if (['langs', 'mentions', 'links', 'tags', 'labels'].includes(col)) rows[i][col] = Array.from(vec.get(i).toArray());
          else rows[i][col] = vec.get(i);
        }
      }
    }
    for (const r of rows) arows.push({ row: r, type });
  }
  compareRows('arrow-rs', arows);
  // the schema every file declares, as hyparquet reads it
  let schemaBad = 0;
  for (const f of files) {
    const b = fs.readFileSync(f);
    const md = parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    const top = md.schema.slice(1).filter((s, i, all) => true);
    const names = [];
    for (let i = 1; i < md.schema.length; i++) {
      const s = md.schema[i];
      names.push(s.name);
      if (s.num_children) i += s.num_children === 1 ? 2 : s.num_children; // LIST -> list -> element
    }
    if (JSON.stringify(names) !== JSON.stringify(COLUMNS) || top.length < COLUMNS.length) schemaBad++;
  }
  check(files.length > 0 && schemaBad === 0, `hyparquet: every file has the ${COLUMNS.length} documented columns in order (${files.length} files)`);
}

// ---- --prune: a filter on time skips row groups ------------------------------------------------
if (opt.prune) {
  // The largest file with >= 4 row groups; a copy has every row group's column chunks but one
  // overwritten with 0xFF. A query filtered on `time` to that row group's range must still
  // return exactly the rows the JSON says are there: it could not have read the others. The
  // unfiltered query over the copy must fail, showing the garbage is real.
  const md = await q(`SELECT file_name, row_group_id, row_group_num_rows AS n, path_in_schema AS col,
      stats_min_value AS lo, stats_max_value AS hi, data_page_offset, dictionary_page_offset, total_compressed_size
      FROM parquet_metadata('${dirGlob}')`);
  const perFile = new Map();
  for (const r of md) r.row_group_id = Number(r.row_group_id);
  for (const r of md) { if (!perFile.has(r.file_name)) perFile.set(r.file_name, new Set()); perFile.get(r.file_name).add(r.row_group_id); }
  const cands = [...perFile].filter(([, s]) => s.size >= 4).sort((a, b) => b[1].size - a[1].size);
  if (cands.length === 0) fail('prune: no file with >= 4 row groups (convert with small --row-group-rows)');
  else {
    const [file, rgs] = cands[0];
    // a middle row group whose time range no other row group of the file overlaps
    // (otherwise a reader could not skip them, whatever the statistics say)
    const ranges = md.filter((r) => r.file_name === file && r.col === 'time_us')
      .map((r) => ({ id: r.row_group_id, lo: BigInt(r.lo), hi: BigInt(r.hi) }));
    const free = ranges.filter((a) => ranges.every((b) => b.id === a.id || b.hi < a.lo || b.lo > a.hi));
    free.sort((a, b) => Math.abs(a.id - rgs.size / 2) - Math.abs(b.id - rgs.size / 2));
    const target = free.length ? free[0].id : Math.floor(rgs.size / 2);
    const lo = free.length ? free[0].lo : 0n, hi = free.length ? free[0].hi : 0n;
    check(free.length > 0, `prune: ${path.basename(file)} has a row group (${target} of ${rgs.size}) whose time range no other row group overlaps`);
    const buf = Buffer.from(fs.readFileSync(file));
    for (const r of md) {
      if (r.file_name !== file || r.row_group_id === target) continue;
      const start = Number(r.dictionary_page_offset ?? r.data_page_offset);
      buf.fill(0xff, start, start + Number(r.total_compressed_size));
    }
    const copyDir = fs.mkdtempSync(path.join(path.dirname(opt.dir), 'prune-'));
    const copy = path.join(copyDir, 'pruned.parquet');
    fs.writeFileSync(copy, buf);
    const type = /\/type=([a-z]+)\//.exec(file)[1];
    const wantN = exp.filter((e) => e.type === type && e.row.time_us >= lo && e.row.time_us <= hi &&
      hourOf(e.row.time_us).join('-') === hourOf(lo).join('-')).length;
    const ts = (us) => `make_timestamp(${us}::BIGINT)`;
    let gotN = null, err = null;
    try {
      gotN = Number((await q(`SELECT count(*) AS n, sum(length(did)) AS s FROM read_parquet('${copy}') WHERE time BETWEEN ${ts(lo)} AND ${ts(hi)}`))[0].n);
    } catch (e) { err = e.message; }
    check(err === null && gotN === wantN, `prune: filter on time reads only the intact row group of a corrupted copy (${gotN ?? err} rows, JSON says ${wantN})`);
    let unfiltered = null;
    try { await q(`SELECT sum(length(did)), sum(length(record)) FROM read_parquet('${copy}')`); unfiltered = 'succeeded'; } catch (e) { unfiltered = 'failed'; }
    check(unfiltered === 'failed', `prune: the same copy read without the filter fails (${unfiltered}), so the skipped row groups really were unreadable`);

    // a lookup by did: every row group whose bloom filter excludes the did is overwritten;
    // the lookup must still count the did's rows of the original file
    const fq = file.replace(/'/g, "''");
    const dids = (await q(`SELECT did, count(*) AS n FROM read_parquet('${fq}') GROUP BY did ORDER BY n, did LIMIT 20`));
    let done = false;
    for (const d of dids) {
      const lit = String(d.did).replace(/'/g, "''");
      const pr = await q(`SELECT row_group_id AS id, bloom_filter_excludes AS x FROM parquet_bloom_probe('${fq}', 'did', '${lit}')`);
      const skip = new Set(pr.filter((p) => p.x === true).map((p) => Number(p.id)));
      if (skip.size < rgs.size / 2) continue;
      const b2 = Buffer.from(fs.readFileSync(file));
      for (const r of md) {
        if (r.file_name !== file || !skip.has(r.row_group_id)) continue;
        const start = Number(r.dictionary_page_offset ?? r.data_page_offset);
        b2.fill(0xff, start, start + Number(r.total_compressed_size));
      }
      fs.writeFileSync(copy, b2);
      let n2 = null, e2 = null;
      try { n2 = Number((await q(`SELECT count(*) AS n, sum(length(record)) AS s FROM read_parquet('${copy}') WHERE did = '${lit}'`))[0].n); } catch (e) { e2 = e.message; }
      check(e2 === null && n2 === Number(d.n), `prune: a lookup by did reads only the ${rgs.size - skip.size} of ${rgs.size} row groups its bloom filter admits (${n2 ?? e2} rows, want ${d.n})`);
      done = true;
      break;
    }
    if (!done) fail('prune: no did of the file is excluded by the bloom filters of half its row groups');
    fs.rmSync(copyDir, { recursive: true, force: true });
  }
}

finish();
function finish() {
  console.log(`${passes} passed, ${fails} failed`);
  process.exit(fails ? 1 : 0);
}
