// The tests' local S3: s3rver (npm s3rver, a file-backed S3 emulator) behind a proxy that
// does what s3rver does not, so that the tests can fail for the reasons real S3 would fail:
//
//   - it verifies every request's SigV4 signature by recomputing it with @smithy/signature-v4
//     (the AWS SDK's own signer) from the headers the client signed, and the body's SHA-256
//     against x-amz-content-sha256; a mismatch is a 403 SignatureDoesNotMatch (or a 400
//     XAmzContentSHA256Mismatch), an unknown key a 403 InvalidAccessKeyId, a date off by more
//     than 15 minutes a 403 RequestTimeTooSkewed;
//   - it keeps the multipart uploads in progress itself and serves ListMultipartUploads and
//     AbortMultipartUpload, which s3rver 3.7.1 does not implement;
//   - it injects faults on request: POST /__fault?mode=M[&count=N][&skip=K][&match=RE][&secs=S]
//     makes the next N requests (default 1) whose "METHOD /path?query" matches RE, after K
//     that pass, fail with M: slowdown (503 SlowDown), error500, reset (the connection is cut
//     after part of the body arrived), stall (no answer for S seconds, default 3600, then the
//     connection is cut), sig403 (403 SignatureDoesNotMatch) or skew (403
//     RequestTimeTooSkewed). DELETE /__fault clears them; GET /__stats counts requests,
//     rejections and faults; GET /__uploads lists the uploads in progress.
//
// Usage: node s3proxy.mjs serve --port P --dir DIR --bucket B --key AK --secret SK [--ready FILE]
//        node s3proxy.mjs download --endpoint URL --bucket B --prefix P --key AK --secret SK --out DIR
//        node s3proxy.mjs list --endpoint URL --bucket B --prefix P --key AK --secret SK   (key size sha256 per line)
//        node s3proxy.mjs put|delete --endpoint URL --bucket B --key AK --secret SK --key_name KEY [--file F]
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

const require = createRequire(import.meta.url);

function args(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) o[argv[i].slice(2)] = argv[++i];
    else o._.push(argv[i]);
  }
  return o;
}

const MAX_BODY = 600 * 1024 * 1024;
const xmlEsc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const errXml = (code, msg) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEsc(msg)}</Message></Error>`;

function parseQuery(raw) {
  const q = {};
  if (!raw) return q;
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, '%20'));
    q[k] = v;
  }
  return q;
}

function amzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

// Verifies one request; returns null when it is good, else [status, code, message].
async function verify(req, body, rawPath, rawQuery, secrets) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return [403, 'AccessDenied', 'no SigV4 Authorization header'];
  const [, ak, , region, signed, sig] = m;
  const sk = secrets.get(ak);
  if (!sk) return [403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'];
  const date = amzDate(req.headers['x-amz-date']);
  if (!date) return [403, 'AccessDenied', 'no x-amz-date'];
  if (Math.abs(date.getTime() - Date.now()) > 15 * 60 * 1000)
    return [403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.'];
  const claimed = req.headers['x-amz-content-sha256'];
  if (!claimed) return [400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256'];
  if (claimed !== 'UNSIGNED-PAYLOAD') {
    const actual = crypto.createHash('sha256').update(body).digest('hex');
    if (actual !== claimed)
      return [400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed."];
  }
  const headers = {};
  for (const h of signed.split(';')) {
    if (req.headers[h] === undefined) return [403, 'SignatureDoesNotMatch', `signed header ${h} was not sent`];
    headers[h] = String(req.headers[h]);
  }
  if (!signed.split(';').includes('host')) return [403, 'SignatureDoesNotMatch', 'host is not signed'];
  const [hostname, port] = headers.host.split(':');
  const signer = new SignatureV4({
    credentials: { accessKeyId: ak, secretAccessKey: sk },
    region,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname,
    port: port ? Number(port) : undefined,
    path: rawPath,
    query: parseQuery(rawQuery),
    headers,
  };
  const unsignable = new Set(['authorization']);
  const signedReq = await signer.sign(request, {
    signingDate: date,
    signingRegion: region,
    unsignableHeaders: new Set([...Object.keys(req.headers)].filter((h) => !(h in headers) && !unsignable.has(h))),
  });
  const mine = /Signature=([0-9a-f]{64})/.exec(signedReq.headers.authorization || '')?.[1];
  if (mine !== sig) return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'];
  return null;
}

async function serve(o) {
  const S3rver = require('s3rver');
  const dir = o.dir;
  fs.mkdirSync(dir, { recursive: true });
  const s3 = new S3rver({ port: 0, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: o.bucket }] });
  const addr = await s3.run();
  const upstream = addr.port;
  const secrets = new Map([[o.key, o.secret]]);
  const uploads = new Map(); // uploadId -> {key, bucket, initiated}
  let faults = [];
  const stats = { requests: 0, verified: 0, rejected: 0, faults: 0, byMethod: {}, rejections: {} };

  const send = (res, status, body, type = 'application/xml') => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = http.createServer(async (req, res) => {
    const url = req.url;
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    if (rawPath.startsWith('/__')) {
      const q = parseQuery(rawQuery);
      if (rawPath === '/__fault' && req.method === 'POST') {
        faults.push({ mode: q.mode, count: Number(q.count || 1), skip: Number(q.skip || 0), match: new RegExp(q.match || '.'), secs: Number(q.secs || 3600) });
        return send(res, 200, 'ok\n', 'text/plain');
      }
      if (rawPath === '/__fault' && req.method === 'DELETE') {
        faults = [];
        return send(res, 200, 'ok\n', 'text/plain');
      }
      if (rawPath === '/__stats') return send(res, 200, JSON.stringify(stats) + '\n', 'application/json');
      if (rawPath === '/__uploads')
        return send(res, 200, JSON.stringify([...uploads].map(([id, u]) => ({ id, key: u.key }))) + '\n', 'application/json');
      return send(res, 404, 'no such control\n', 'text/plain');
    }
    stats.requests++;
    const line = `${req.method} ${url}`;
    stats.byMethod[req.method] = (stats.byMethod[req.method] || 0) + 1;
    let fault = null;
    for (const f of faults) {
      if (f.count > 0 && f.match.test(line)) {
        if (f.skip > 0) {
          f.skip--;
          break;
        }
        f.count--;
        fault = f;
        break;
      }
    }
    faults = faults.filter((f) => f.count > 0);
    const chunks = [];
    let size = 0;
    let cut = false;
    req.on('data', (c) => {
      if (cut) return;
      size += c.length;
      if (size > MAX_BODY) {
        cut = true;
        req.socket.destroy();
        return;
      }
      chunks.push(c);
      if (fault && fault.mode === 'reset') {
        cut = true;
        stats.faults++;
        req.socket.destroy();
      }
    });
    await new Promise((r) => req.on('end', r).on('close', r));
    if (cut || req.socket.destroyed) {
      if (fault && fault.mode === 'reset' && !cut) stats.faults++;
      return;
    }
    if (fault && fault.mode === 'reset') { // a request without a body: cut it anyway
      stats.faults++;
      return req.socket.destroy();
    }
    const body = Buffer.concat(chunks);
    if (fault) {
      stats.faults++;
      if (fault.mode === 'stall') {
        const t = setTimeout(() => req.socket.destroy(), fault.secs * 1000);
        req.socket.on('close', () => clearTimeout(t));
        return;
      }
      if (fault.mode === 'slowdown') return send(res, 503, errXml('SlowDown', 'Please reduce your request rate.'));
      if (fault.mode === 'error500') return send(res, 500, errXml('InternalError', 'We encountered an internal error. Please try again.'));
      if (fault.mode === 'sig403') return send(res, 403, errXml('SignatureDoesNotMatch', 'injected: the signature does not match'));
      if (fault.mode === 'skew') return send(res, 403, errXml('RequestTimeTooSkewed', 'injected: The difference between the request time and the current time is too large.'));
    }
    let bad;
    try {
      bad = await verify(req, body, rawPath, rawQuery, secrets);
    } catch (e) {
      bad = [403, 'SignatureDoesNotMatch', `cannot verify: ${e.message}`];
    }
    if (bad) {
      stats.rejected++;
      stats.rejections[bad[1]] = (stats.rejections[bad[1]] || 0) + 1;
      return send(res, bad[0], errXml(bad[1], bad[2]));
    }
    stats.verified++;
    const q = parseQuery(rawQuery);
    const segs = rawPath.split('/');
    const bucket = decodeURIComponent(segs[1] || '');
    const key = segs.slice(2).map(decodeURIComponent).join('/');
    // what s3rver lacks: ListMultipartUploads and AbortMultipartUpload
    if (req.method === 'GET' && 'uploads' in q && !key) {
      const prefix = q.prefix || '';
      const list = [...uploads].filter(([, u]) => u.bucket === bucket && u.key.startsWith(prefix)).sort((a, b) => (a[1].key < b[1].key ? -1 : a[1].key > b[1].key ? 1 : 0));
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${xmlEsc(bucket)}</Bucket><Prefix>${xmlEsc(prefix)}</Prefix><IsTruncated>false</IsTruncated>` +
        list.map(([id, u]) => `<Upload><Key>${xmlEsc(u.key)}</Key><UploadId>${xmlEsc(id)}</UploadId></Upload>`).join('') + '</ListMultipartUploadsResult>';
      return send(res, 200, xml);
    }
    if (req.method === 'DELETE' && q.uploadId !== undefined) {
      if (!uploads.has(q.uploadId)) return send(res, 404, errXml('NoSuchUpload', 'The specified upload does not exist.'));
      uploads.delete(q.uploadId);
      res.writeHead(204);
      return res.end();
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    delete headers.expect;
    headers['content-length'] = String(body.length);
    const up = http.request({ host: '127.0.0.1', port: upstream, method: req.method, path: url, headers }, (ur) => {
      const out = [];
      ur.on('data', (c) => out.push(c));
      ur.on('end', () => {
        const rb = Buffer.concat(out);
        if (ur.statusCode === 200 && req.method === 'POST' && 'uploads' in q) {
          const id = /<UploadId>([^<]+)<\/UploadId>/.exec(rb.toString())?.[1];
          if (id) uploads.set(id, { bucket, key, initiated: Date.now() });
        }
        if (ur.statusCode === 200 && req.method === 'POST' && q.uploadId !== undefined) uploads.delete(q.uploadId);
        const h = { ...ur.headers };
        delete h['transfer-encoding'];
        if (req.method !== 'HEAD') h['content-length'] = String(rb.length);
        res.writeHead(ur.statusCode, h);
        res.end(req.method === 'HEAD' ? undefined : rb);
      });
    });
    up.on('error', (e) => send(res, 500, errXml('InternalError', e.message)));
    up.end(body);
  });
  server.listen(Number(o.port), '127.0.0.1', () => {
    if (o.ready) fs.writeFileSync(o.ready, String(process.pid) + '\n');
  });
  const stop = async () => {
    server.close();
    await s3.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// ---- the test-side client: list and download through the verifying proxy ----------------------

function client(o) {
  const u = new URL(o.endpoint);
  const signer = new SignatureV4({ credentials: { accessKeyId: o.key, secretAccessKey: o.secret }, region: o.region || 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: true });
  const enc = (k) => k.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())).join('/');
  return async function request(method, key, query = {}, body = Buffer.alloc(0)) {
    const p = `/${o.bucket}/${enc(key)}`;
    const headers = { host: u.host, 'x-amz-content-sha256': crypto.createHash('sha256').update(body).digest('hex') };
    if (body.length) headers['content-length'] = String(body.length);
    const signed = await signer.sign({ method, protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: p, query, headers });
    const qs = Object.keys(query).sort().map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(query[k])}`).join('&');
    return new Promise((resolve, reject) => {
      const r = http.request({ host: u.hostname, port: u.port, method, path: p + (qs ? '?' + qs : ''), headers: signed.headers }, (res) => {
        const c = [];
        res.on('data', (d) => c.push(d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(c) }));
      });
      r.on('error', reject);
      r.end(body);
    });
  };
}

async function listAll(o) {
  const request = client(o);
  const out = [];
  let token;
  for (;;) {
    const q = { 'list-type': '2', prefix: o.prefix || '' };
    if (token) q['continuation-token'] = token;
    const r = await request('GET', '', q);
    if (r.status !== 200) throw new Error(`LIST: HTTP ${r.status} ${r.body}`);
    const x = r.body.toString();
    for (const m of x.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
      const key = /<Key>([^<]*)<\/Key>/.exec(m[1])[1].replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
      const size = Number(/<Size>(\d+)<\/Size>/.exec(m[1])[1]);
      out.push({ key, size });
    }
    const t = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(x);
    if (!/<IsTruncated>true<\/IsTruncated>/.test(x) || !t) break;
    token = t[1];
  }
  return { request, list: out };
}

const o = args(process.argv.slice(2));
const cmd = o._[0];
if (cmd === 'serve') {
  await serve(o);
} else if (cmd === 'list') {
  const { request, list } = await listAll(o);
  for (const { key, size } of list) {
    const h = await request('HEAD', key);
    console.log(`${key} ${size} ${h.headers['x-amz-meta-sha256'] || '-'}`);
  }
} else if (cmd === 'download') {
  const { request, list } = await listAll(o);
  let n = 0;
  for (const { key } of list) {
    const r = await request('GET', key);
    if (r.status !== 200) throw new Error(`GET ${key}: HTTP ${r.status}`);
    const rel = o.prefix ? key.slice(o.prefix.length).replace(/^\//, '') : key;
    const dst = path.join(o.out, rel);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.writeFileSync(dst, r.body);
    n++;
  }
  console.log(`downloaded ${n} objects`);
} else if (cmd === 'put' || cmd === 'delete') { // tests that damage an archive: --key K [--file F]
  const request = client(o);
  const r = cmd === 'put' ? await request('PUT', o.key_name, {}, fs.readFileSync(o.file)) : await request('DELETE', o.key_name);
  if (r.status !== 200 && r.status !== 204) throw new Error(`${cmd} ${o.key_name}: HTTP ${r.status} ${r.body}`);
} else {
  console.error('usage: s3proxy.mjs serve|list|download|put|delete ...');
  process.exit(2);
}
