// Plays a live DASH stream from a running castguard with shaka-player in
// headless Debian Chromium (driven by live_e2e.rs), the way play_url.mjs
// plays VOD: the page is on the server's own origin, requests are real
// HTTP to it, and the bearer token goes on Clear Key license requests.
//
//   node live.mjs --url MPD --clearkey-license URL --token JWT [--watch SECONDS] [--chromium PATH]
//
// Once playback starts, watches it for --watch seconds (default 10) and
// prints one JSON line: whether it played, whether shaka saw a live stream,
// the playhead's advance against the wall clock over the watch (rate), and
// the live latency at the end: the wall clock minus the wall-clock time of
// the frame on screen (the MPD's availabilityStartTime plus currentTime),
// and shaka's own `getStats().liveLatency`, with where it comes from (the
// live point and seek range at load, the start-up time). Exits 1 unless it
// played.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, LIBS, args, launch } from './static_page.mjs';

const a = args();
const url = a.one('url');
const license = a.one('clearkey-license');
const token = a.one('token');
const watch = Number(a.one('watch', '10'));
if (!url || !license) {
  console.error('usage: node live.mjs --url MPD --clearkey-license URL --token JWT');
  process.exit(2);
}
const START_TIMEOUT_MS = 20000;
// Whatever happens, one line and an exit within this.
const DEADLINE_MS = START_TIMEOUT_MS + (watch + 20) * 1000;
setTimeout(() => {
  console.log(JSON.stringify({ url, played: false, error: 'deadline' }));
  process.exit(1);
}, DEADLINE_MS).unref();

const browser = await launch(a.one('chromium', '/usr/bin/chromium'));
const page = await browser.newPage();
const logs = [];
page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
const origin = new URL(url).origin;
const PAGE = '<!doctype html><html><body><video id="video" muted playsinline></video></body></html>';
await page.route(`${origin}/__live_test_page.html`, (r) =>
  r.fulfill({ status: 200, contentType: 'text/html', body: PAGE }));
await page.goto(`${origin}/__live_test_page.html`);
await page.addScriptTag({ content: fs.readFileSync(path.join(ROOT, LIBS['shaka.js']), 'utf8') });
const result = await page.evaluate(async ({ url, license, token, watch, startTimeout }) => {
  shaka.polyfill.installAll();
  const video = document.getElementById('video');
  const player = new shaka.Player();
  await player.attach(video);
  const errors = [];
  player.addEventListener('error', (e) => errors.push(String(e.detail && e.detail.code)));
  player.configure({ drm: { servers: { 'org.w3.clearkey': license } } });
  player.getNetworkingEngine().registerRequestFilter((type, request) => {
    if (type === shaka.net.NetworkingEngine.RequestType.LICENSE && token) {
      request.headers['Authorization'] = `Bearer ${token}`;
    }
  });
  const loadStart = Date.now();
  let edgeAtLoad = null;
  try {
    await player.load(url);
    const ast0 = player.getPresentationStartTimeAsDate();
    edgeAtLoad = ast0 ? { wall: (Date.now() - ast0.getTime()) / 1000, seekEnd: player.seekRange().end, ct: video.currentTime } : null;
  } catch (e) {
    return { played: false, error: `load: ${e.code || e}`, errors };
  }
  // Not awaited: without a key (the outsider) playback never starts and
  // the promise never settles.
  video.play().catch(() => {});
  const t0 = Date.now();
  // Started: the playhead moved and frames are decoded.
  let start = null;
  while (Date.now() - t0 < startTimeout && errors.length === 0) {
    if (start === null && video.currentTime > 0 && !video.paused && video.readyState >= 3) {
      start = { wall: Date.now(), ct: video.currentTime };
      const ast1 = player.getPresentationStartTimeAsDate();
      start.latency = ast1 ? (start.wall - ast1.getTime()) / 1000 - start.ct : null;
    }
    if (start !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (start === null) {
    return { played: false, currentTime: video.currentTime, errors, isLive: player.isLive() };
  }
  // Let it settle a moment, then measure over the watch window.
  await new Promise((r) => setTimeout(r, 1000));
  const from = { wall: Date.now(), ct: video.currentTime };
  await new Promise((r) => setTimeout(r, watch * 1000));
  const to = { wall: Date.now(), ct: video.currentTime };
  const ast = player.getPresentationStartTimeAsDate();
  const latency = ast ? (to.wall - ast.getTime()) / 1000 - to.ct : null;
  return {
    played: to.ct > from.ct,
    isLive: player.isLive(),
    rate: (to.ct - from.ct) / ((to.wall - from.wall) / 1000),
    advanced: to.ct - from.ct,
    watched: (to.wall - from.wall) / 1000,
    latency,
    shakaLatency: player.getStats().liveLatency,
    // Where it went: at load, the wall-clock live point (now minus
    // availabilityStartTime), shaka's seek range end and the start
    // position; then how long until frames played, and the latency then.
    edgeAtLoad,
    startupSecs: (start.wall - loadStart) / 1000,
    latencyAtStart: start.latency,
    currentTime: to.ct,
    keySystem: player.keySystem(),
    errors,
  };
}, { url, license, token, watch, startTimeout: START_TIMEOUT_MS });
console.log(JSON.stringify({ url, ...result, logs: logs.slice(-15) }));
await browser.close();
process.exit(result.played ? 0 : 1);
