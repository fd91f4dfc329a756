// queries_check: runs every ```sql query=NAME block of docs/QUERIES.md with DuckDB over an
// archive and compares each result with the same answer computed here, independently, from
// the JSONL the archive was converted from (JSON.parse and plain JavaScript: no SQL, no
// Parquet). A block without a reference below, or a reference without a block, fails: the
// doc and its proof cannot drift apart.
//
//   node queries_check.mjs --doc docs/QUERIES.md --archive DIR --input FILE.jsonl
//
// The input must be what was converted, without planted duplicates or bad lines (every line
// is one archived or skipped event). Prints one "ok/FAIL" line per query; exit 0 when all pass.
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const docPath = opt('--doc'), archive = opt('--archive'), input = opt('--input');
if (!docPath || !archive || !input) {
  console.error('usage: node queries_check.mjs --doc docs/QUERIES.md --archive DIR --input FILE.jsonl');
  process.exit(2);
}
let fails = 0;
const check = (ok, what) => {
  if (!ok) fails++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} - ${what}`);
};

// ---- the input, as the archive should hold it -------------------------------------------
const TYPES = {
  'app.bsky.feed.post': 'post', 'app.bsky.feed.like': 'like', 'app.bsky.feed.repost': 'repost',
  'app.bsky.graph.follow': 'follow', 'app.bsky.graph.block': 'block',
};
const ev = [];
for (const line of fs.readFileSync(input, 'utf8').split('\n')) {
  if (!line) continue;
  const e = JSON.parse(line);
  let type;
  if (e.kind === 'identity' || e.kind === 'account') type = e.kind;
  else if (e.kind === 'commit') type = TYPES[e.commit.collection];
  if (!type) continue; // other collections are not archived by default
  const c = e.commit || {};
  const d = new Date(Math.floor(e.time_us / 1000));
  ev.push({
    type, did: e.did, us: e.time_us, op: c.operation ?? null, rkey: c.rkey, rec: c.record,
    y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(),
  });
}
const of = (type, op) => ev.filter((e) => e.type === type && (!op || e.op === op));
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const by = (...keys) => (a, b) => {
  for (const [k, dir] of keys) {
    const c = cmp(a[k], b[k]) * (dir || 1);
    if (c) return c;
  }
  return 0;
};
const groupCount = (items, keyOf) => {
  const m = new Map();
  for (const it of items) {
    const k = keyOf(it);
    m.set(k, (m.get(k) || 0) + 1);
  }
  return m;
};
const uriOf = (e) => `at://${e.did}/app.bsky.feed.post/${e.rkey}`;
const postText = new Map(of('post', 'create').map((p) => [uriOf(p), p.rec.text ?? null]));
const HOUR = 3600e6;

// The account the one_account query asks about: the most active one (ties: smallest DID).
const perDid = groupCount(ev, (e) => e.did);
const DID = [...perDid].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]))[0][0];

const topSubjects = (type, withLikers) => {
  const m = new Map();
  for (const e of of(type, 'create')) {
    const u = e.rec.subject.uri;
    if (!m.has(u)) m.set(u, { n: 0, dids: new Set() });
    m.get(u).n++;
    m.get(u).dids.add(e.did);
  }
  return [...m].map(([uri, v]) => ({ uri, n: v.n, likers: v.dids.size }))
    .sort(by(['n', -1], ['uri'])).slice(0, 10)
    .map((r) => (withLikers ? [r.uri, r.n, r.likers, postText.get(r.uri) ?? null] : [r.uri, r.n, postText.get(r.uri) ?? null]));
};

const follows = of('follow');
const fcreates = follows.filter((e) => e.op === 'create'), fdeletes = follows.filter((e) => e.op === 'delete');
const keyDR = (e) => `${e.did} ${e.rkey}`;
const createsByKey = new Map();
for (const c of fcreates) {
  if (!createsByKey.has(keyDR(c))) createsByKey.set(keyDR(c), []);
  createsByKey.get(keyDR(c)).push(c);
}
const deletedKeys = new Set(fdeletes.map(keyDR));

const replies = of('post', 'create').filter((p) => p.rec.reply);

// ---- the reference answers, one per query ------------------------------------------------
const expected = {
  posts_per_hour: () => [...groupCount(of('post', 'create'), (e) => `${e.y} ${e.mo} ${e.d} ${e.h}`)]
    .map(([k, n]) => [...k.split(' ').map(Number), n])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3]),
  posts_per_language: () => {
    const m = new Map();
    for (const p of of('post', 'create'))
      if (Array.isArray(p.rec.langs))
        for (const l of p.rec.langs) if (typeof l === 'string') m.set(l, (m.get(l) || 0) + 1);
    return [...m].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]));
  },
  most_liked: () => topSubjects('like', true),
  most_reposted: () => topSubjects('repost', false),
  follow_unfollow_totals: () => {
    const matched = fdeletes.filter((d) => createsByKey.has(keyDR(d))).length;
    return [[fcreates.length, matched, fdeletes.length - matched]];
  },
  most_followed: () => {
    const m = new Map();
    for (const c of fcreates) {
      if (deletedKeys.has(keyDR(c))) continue;
      const s = c.rec.subject;
      if (!m.has(s)) m.set(s, { n: 0, f: new Set() });
      m.get(s).n++;
      m.get(s).f.add(c.did);
    }
    return [...m].map(([s, v]) => [s, v.n, v.f.size]).sort((a, b) => b[1] - a[1] || cmp(a[0], b[0])).slice(0, 10);
  },
  unfollows: () => {
    const rows = [];
    for (const d of fdeletes)
      for (const c of createsByKey.get(keyDR(d)) || []) rows.push([d.did, c.rec.subject, c.us, d.us, d.us - c.us]);
    return rows.sort((a, b) => a[3] - b[3] || cmp(a[0], b[0]) || cmp(a[1], b[1])).slice(0, 20);
  },
  largest_threads: () => {
    const m = new Map();
    for (const r of replies) {
      const root = r.rec.reply.root.uri, parent = r.rec.reply.parent.uri;
      if (!m.has(root)) m.set(root, { n: 0, dids: new Set(), nested: 0 });
      const t = m.get(root);
      t.n++;
      t.dids.add(r.did);
      if (parent !== root) t.nested++;
    }
    return [...m].map(([root, t]) => [root, t.n, t.dids.size, t.nested, postText.get(root) ?? null])
      .sort((a, b) => b[1] - a[1] || cmp(a[0], b[0])).slice(0, 10);
  },
  thread_tree: () => {
    const size = groupCount(replies, (r) => r.rec.reply.root.uri);
    const [top] = [...size].sort((a, b) => b[1] - a[1] || cmp(a[0], b[0]))[0];
    const children = new Map();
    for (const p of of('post', 'create')) {
      const parent = p.rec.reply?.parent?.uri;
      if (!parent) continue;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(uriOf(p));
    }
    const depths = new Map();
    const walk = (uri, depth) => {
      depths.set(depth, (depths.get(depth) || 0) + 1);
      for (const c of children.get(uri) || []) walk(c, depth + 1);
    };
    walk(top, 0);
    return [...depths].sort((a, b) => a[0] - b[0]);
  },
  blocks_per_hour: () => {
    const m = new Map();
    for (const b of of('block')) {
      const h = Math.floor(b.us / HOUR) * HOUR;
      if (!m.has(h)) m.set(h, [h, 0, 0]);
      if (b.op === 'create') m.get(h)[1]++;
      if (b.op === 'delete') m.get(h)[2]++;
    }
    return [...m.values()].sort((a, b) => a[0] - b[0]);
  },
  one_account: () => {
    const m = new Map();
    for (const e of ev.filter((x) => x.did === DID)) {
      const k = `${e.type}\u0000${e.op ?? ''}`;
      if (!m.has(k)) m.set(k, [e.type, e.op, 0, e.us, e.us]);
      const r = m.get(k);
      r[2]++;
      r[3] = Math.min(r[3], e.us);
      r[4] = Math.max(r[4], e.us);
    }
    return [...m.values()].sort((a, b) => cmp(a[0], b[0]) || (a[1] === null ? -1 : b[1] === null ? 1 : cmp(a[1], b[1])));
  },
  ten_minutes: () => {
    const lo = Date.UTC(2025, 7, 7, 1, 0, 0) * 1000, hi = lo + 600e6;
    const m = new Map();
    for (const e of ev.filter((x) => x.us >= lo && x.us < hi)) {
      if (!m.has(e.type)) m.set(e.type, { n: 0, dids: new Set() });
      m.get(e.type).n++;
      m.get(e.type).dids.add(e.did);
    }
    return [...m].map(([t, v]) => [t, v.n, v.dids.size]).sort((a, b) => cmp(a[0], b[0]));
  },
};

// What makes a reference answer worth comparing: the synthetic data must really exercise the
// query (popular posts, nested threads, matched unfollows), or the comparison proves little.
const meaningful = {
  posts_per_hour: (r) => r.length >= 3,
  posts_per_language: (r) => r.length >= 5,
  most_liked: (r) => r.length === 10 && r[0][1] >= 20 && r.every((x) => x[3] !== null),
  most_reposted: (r) => r.length === 10 && r[0][1] >= 5 && r.every((x) => x[2] !== null),
  follow_unfollow_totals: (r) => r[0][1] > 100,
  most_followed: (r) => r.length === 10 && r[0][1] >= 20,
  unfollows: (r) => r.length === 20,
  largest_threads: (r) => r.length === 10 && r[0][1] >= 5 && r[0][3] > 0,
  thread_tree: (r) => r.length >= 3,
  blocks_per_hour: (r) => r.length >= 3 && r.some((x) => x[2] > 0),
  one_account: (r) => r.length >= 2,
  ten_minutes: (r) => r.length >= 5,
};

// ---- the doc's queries -------------------------------------------------------------------
const doc = fs.readFileSync(docPath, 'utf8');
const blocks = [...doc.matchAll(/^```sql query=([a-z0-9_]+)\n([\s\S]*?)^```$/gm)].map((m) => ({ name: m[1], sql: m[2] }));
const fences = (doc.match(/^```sql/gm) || []).length;
check(fences === blocks.length, `every sql block is marked query=NAME (${blocks.length} of ${fences})`);
const names = blocks.map((b) => b.name);
check(new Set(names).size === names.length, 'query names are unique');
for (const n of Object.keys(expected)) check(names.includes(n), `the doc has query ${n}`);

// DuckDB values as plain numbers and strings: BIGINT -> Number, timestamps -> microseconds.
const norm = (v) => {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'object' && 'micros' in v) return Number(v.micros);
  return v;
};
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const lit = (s) => s.replaceAll("'", "''");
for (const { name, sql } of blocks) {
  if (!expected[name]) {
    check(false, `${name}: no reference computation in queries_check.mjs`);
    continue;
  }
  let got;
  try {
    const text = sql.replaceAll('ARCHIVE', lit(archive)).replaceAll("'DID'", `'${lit(DID)}'`);
    got = (await con.runAndReadAll(text)).getRows().map((r) => r.map(norm));
  } catch (err) {
    check(false, `${name}: DuckDB failed: ${err.message.split('\n')[0]}`);
    continue;
  }
  const want = expected[name]();
  check(meaningful[name](want), `${name}: the data exercises it (${want.length} rows, first ${JSON.stringify(want[0])?.slice(0, 120)})`);
  const same = JSON.stringify(got) === JSON.stringify(want);
  if (!same) {
    const i = got.findIndex((r, k) => JSON.stringify(r) !== JSON.stringify(want[k]));
    const at = i < 0 ? Math.min(got.length, want.length) : i;
    console.log(`    ${got.length} rows from DuckDB, ${want.length} expected; first difference at row ${at}:`);
    console.log(`    duckdb:   ${JSON.stringify(got[at])}`);
    console.log(`    expected: ${JSON.stringify(want[at])}`);
  }
  check(same, `${name}: DuckDB's ${got.length} rows equal the reference computed from the JSONL`);
}
process.exit(fails ? 1 : 0);
