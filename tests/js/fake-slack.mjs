// A local stand-in for Slack's incoming-webhook endpoint, for monitoring tests only.
// Usage: node fake-slack.mjs PORT_FILE OUT_FILE
// Listens on 127.0.0.1 (a free port, written to PORT_FILE), answers every POST with "ok"
// as Slack does, and appends each JSON body as one line to OUT_FILE.
import http from 'node:http';
import fs from 'node:fs';

const [portFile, outFile] = process.argv.slice(2);
if (!portFile || !outFile) {
  console.error('usage: fake-slack.mjs PORT_FILE OUT_FILE');
  process.exit(2);
}
const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > 1 << 20) { res.writeHead(413); res.end(); req.destroy(); return; }
    chunks.push(c);
  });
  req.on('end', () => {
    if (req.method !== 'POST') { res.writeHead(405); res.end(); return; }
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      fs.appendFileSync(outFile, JSON.stringify(JSON.parse(body)) + '\n');
    } catch (e) {
      res.writeHead(400); res.end('invalid_payload'); return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile, String(server.address().port));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
