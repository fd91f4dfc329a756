// Drives skyspool's status page (served at "/" by the metrics listener) in headless Chromium
// through playwright-core, for tests/integration/status_page.sh.
//
// usage: node status_page.mjs URL CHROMIUM SCREENSHOT.png [DOCS.png MASK] > dom.json
// Loads the page, waits until it has rendered one /api/status answer, then a second one (so
// the values shown are from a refresh, not the first load), and prints what the DOM shows:
// per-type length/pending/lag, totals, ingester and writer fields, the run and attempt rows,
// every request the page made (the test asserts they all stay on the listener's origin) and
// whether any element was created from a string in the data (an injected <img>). Then it
// takes a screenshot and checks the file is a well-formed PNG (signature, chunk CRCs, IHDR
// first, IEND last) and reports its size. With DOCS.png, a second screenshot for the docs, with
// the text MASK (the test's scratch path) replaced by "..." so no machine path is kept.
import { readFileSync } from "node:fs";
import { crc32 } from "node:zlib";
import { chromium } from "playwright-core";

const [url, exe, shot, docsShot, mask] = process.argv.slice(2);
if (!url || !exe || !shot) {
  console.error("usage: node status_page.mjs URL CHROMIUM SCREENSHOT.png");
  process.exit(2);
}

function checkPng(path) {
  const b = readFileSync(path);
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (b.length < 8 || sig.some((v, i) => b[i] !== v)) return { ok: false, why: "no PNG signature" };
  let off = 8, chunks = [], width = 0, height = 0;
  while (off + 12 <= b.length) {
    const len = b.readUInt32BE(off);
    const type = b.toString("latin1", off + 4, off + 8);
    if (off + 12 + len > b.length) return { ok: false, why: `chunk ${type} runs past the end` };
    const crc = b.readUInt32BE(off + 8 + len);
    if (crc32(b.subarray(off + 4, off + 8 + len)) !== crc) return { ok: false, why: `bad CRC in ${type}` };
    if (type === "IHDR") { width = b.readUInt32BE(off + 8); height = b.readUInt32BE(off + 12); }
    chunks.push(type);
    off += 12 + len;
  }
  const ok = chunks[0] === "IHDR" && chunks.at(-1) === "IEND" && chunks.includes("IDAT") && off === b.length;
  return { ok, why: ok ? "" : `chunks ${chunks.join(",")}`, width, height, bytes: b.length };
}

const browser = await chromium.launch({
  executablePath: exe,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  let answers = 0;
  page.on("response", (r) => { if (new URL(r.url()).pathname === "/api/status") answers++; });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("body[data-loaded='1']", { timeout: 10000 });
  const first = answers;
  // wait for the page's own refresh (every 5 s) to have answered and rendered
  const t0 = Date.now();
  while (answers <= first && Date.now() - t0 < 12000) await page.waitForTimeout(100);
  await page.waitForTimeout(300);
  const dom = await page.evaluate(() => {
    const t = (id) => document.getElementById(id).textContent;
    const streams = {};
    for (const tr of document.querySelectorAll("#streams tbody tr")) {
      const c = [...tr.cells].map((td) => td.textContent);
      streams[tr.dataset.type] = { length: c[1], pending: c[2], lag: c[3], oldest_age_s: c[4] };
    }
    const runs = [...document.querySelectorAll("#runs tbody tr")].map((tr) => ({
      status: tr.dataset.status, cells: [...tr.cells].map((td) => td.textContent),
    }));
    const attempts = [...document.querySelectorAll("#attempts tbody tr:not(.none)")].map((tr) => [...tr.cells].map((td) => td.textContent));
    const ids = ["total_length", "total_pending", "dlq_length", "ingest_state", "ingest_alive", "ingest_paused",
      "ingest_events", "ingest_source", "source_lag", "writer_alive", "last_commit_age", "watermark_lag", "due_since",
      "conn", "updated"];
    const f = {};
    for (const id of ids) f[id] = t(id);
    return { streams, runs, attempts, fields: f, imgs: document.querySelectorAll("img").length,
      scripts: document.querySelectorAll("script").length, links: document.querySelectorAll("link").length };
  });
  await page.screenshot({ path: shot, fullPage: true });
  if (docsShot && mask) {
    await page.evaluate((m) => {
      clearInterval(window.__tick); // keep the masked text on screen
      for (const el of document.querySelectorAll("dd, td")) if (el.textContent.includes(m)) el.textContent = el.textContent.split(m).join(".../");
    }, mask);
    await page.screenshot({ path: docsShot, fullPage: true });
  }
  const origin = new URL(url).origin;
  const foreign = requests.filter((u) => new URL(u).origin !== origin);
  console.log(JSON.stringify({ ...dom, requests, foreign, answers, errors, png: checkPng(shot) }));
} finally {
  await browser.close();
}
