// Plays a title whose keys rotate (driven by rotation_e2e.rs) in headless
// Debian Chromium (npm playwright-core, flags from shared/TESTING.md
// "Browsers"): DASH with shaka-player and a Clear Key license server, or
// HLS AES-128 with hls.js. The page is on the server's own origin, so
// manifests, segments, licenses and keys are real HTTP to castguard.
//
//   node rotation.mjs --mode dash|hls --url URL [--clearkey-license URL]
//                     [--play-past SECONDS] [--chromium PATH]
//
// Prints one JSON line: whether the video played past --play-past, the
// longest time playback stood still once it had started (a stall at a key
// period boundary shows here), the player's own stall count (shaka), the
// KIDs of every Clear Key license request (base64url, from the EME
// message the page POSTed), the AES-128 key URLs fetched and the init
// segments fetched; exits 1 unless it played.
import { args, launch, openOnServer } from './static_page.mjs';

const a = args();
const mode = a.one('mode');
const url = a.one('url');
const license = a.one('clearkey-license');
const past = Number(a.one('play-past', '8.5'));
if (!url || !['dash', 'hls'].includes(mode)) {
  console.error('usage: node rotation.mjs --mode dash|hls --url URL [--clearkey-license URL] [--play-past S]');
  process.exit(2);
}
const TIMEOUT_MS = 40000;

const browser = await launch(a.one('chromium', '/usr/bin/chromium'));
const { page, logs } = await openOnServer(browser, new URL(url).origin, mode === 'hls' ? 'hls.js' : 'shaka.js');
const licenses = [];
const keys = [];
const inits = [];
page.on('request', (r) => {
  const u = r.url();
  if (license && u === license && r.method() === 'POST') {
    try {
      licenses.push(JSON.parse(r.postData() || '{}').kids || []);
    } catch {
      licenses.push(['unreadable']);
    }
  }
  if (u.includes('/keys/v1/aes/')) keys.push(u);
  if (/\/init(-\d+)?\.mp4$/.test(u)) inits.push(u);
});

const result = await page.evaluate(async ({ mode, url, license, past, timeout }) => {
  const video = document.getElementById('video');
  const errors = [];
  let player = null;
  if (mode === 'dash') {
    shaka.polyfill.installAll();
    player = new shaka.Player();
    await player.attach(video);
    player.addEventListener('error', (e) => errors.push(String(e.detail && e.detail.code)));
    if (license) player.configure({ drm: { servers: { 'org.w3.clearkey': license } } });
    try {
      await player.load(url);
    } catch (e) {
      return { played: false, errors: [`load: ${e.code || e}`] };
    }
  } else {
    const hls = new Hls();
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (d.fatal) errors.push(`${d.type}: ${d.details}`);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }
  await video.play().catch(() => {});
  // Sample the clock: the longest wall time without progress once
  // playback has started, until it passes `past`.
  let waiting = 0;
  video.addEventListener('waiting', () => { if (video.currentTime > 0.5) waiting += 1; });
  const t0 = Date.now();
  let last = video.currentTime;
  let lastMove = null;
  let maxStallMs = 0;
  while (video.currentTime < past && Date.now() - t0 < timeout && errors.length === 0) {
    await new Promise((r) => setTimeout(r, 100));
    const now = Date.now();
    const t = video.currentTime;
    if (t > last) {
      if (lastMove !== null && last > 0) maxStallMs = Math.max(maxStallMs, now - lastMove);
      lastMove = now;
      last = t;
    }
  }
  if (lastMove !== null && video.currentTime < past) maxStallMs = Math.max(maxStallMs, Date.now() - lastMove);
  const stats = player ? player.getStats() : {};
  return {
    played: video.currentTime >= past,
    currentTime: video.currentTime,
    maxStallMs,
    waiting,
    stallsDetected: stats.stallsDetected ?? null,
    keySystem: player ? player.keySystem() : null,
    errors,
  };
}, { mode, url, license, past, timeout: TIMEOUT_MS });
console.log(JSON.stringify({ mode, url, ...result, licenses, keys, inits, logs: logs.slice(-20) }));
await browser.close();
process.exit(result.played ? 0 : 1);
