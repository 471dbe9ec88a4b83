// Plays one manifest URL from a running castguard with shaka-player in
// headless Debian Chromium (npm playwright-core, flags from
// shared/TESTING.md "Browsers"; driven by legacy_urls_e2e.rs). The page is
// on the server's own origin (loopback: a secure context, as EME wants),
// so requests are real HTTP to the server, redirects included; only the
// page itself and the player library come from playwright's router.
//
//   node play_url.mjs --url URL [--clearkey-license URL] [--license-token T]
//        [--serve-dir DIR] [--chromium PATH]
//
// --serve-dir: the files of DIR (another packager's output) are answered
// by playwright under URL's origin at /__static/, so that URL may name
// them while licenses still go to the real server; --license-token: sent
// as `Authorization: Bearer` on license requests only.
//
// Prints one JSON line: whether the video played past 3 s, the key system
// shaka used, the manifest URL after redirects (shaka's response URI) and
// the first init segment requested; exits 1 unless it played.
import fs from 'node:fs';
import path from 'node:path';
import { args, launch, openOnServer } from './static_page.mjs';

const a = args();
const url = a.one('url');
const license = a.one('clearkey-license');
const licenseToken = a.one('license-token');
const serveDir = a.one('serve-dir');
if (!url) {
  console.error('usage: node play_url.mjs --url URL [--clearkey-license URL]');
  process.exit(2);
}
const PLAY_PAST = 3;
const PLAY_TIMEOUT_MS = 25000;

const browser = await launch(a.one('chromium', '/usr/bin/chromium'));
const { page, logs } = await openOnServer(browser, new URL(url).origin, 'shaka.js');
if (serveDir) {
  const root = path.resolve(serveDir);
  await page.route(`${new URL(url).origin}/__static/**`, (route) => {
    const p = decodeURIComponent(new URL(route.request().url()).pathname).replace(/^\/__static\//, '');
    const file = path.join(root, path.normalize(p));
    if (!file.startsWith(root) || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'no' });
    const type = file.endsWith('.mpd') ? 'application/dash+xml' : 'video/mp4';
    // Byte ranges (SegmentBase: Shaka Packager's single-file tracks).
    const range = /^bytes=(\d+)-(\d*)$/.exec(route.request().headers().range || '');
    if (range) {
      const all = fs.readFileSync(file);
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), all.length - 1) : all.length - 1;
      return route.fulfill({
        status: 206, contentType: type, body: all.subarray(start, end + 1),
        headers: { 'content-range': `bytes ${start}-${end}/${all.length}` },
      });
    }
    return route.fulfill({ status: 200, contentType: type, path: file });
  });
}
const inits = [];
page.on('request', (r) => {
  if (r.url().endsWith('/init.mp4')) inits.push(r.url());
});
const result = await page.evaluate(async ({ url, license, licenseToken, past, timeout }) => {
  shaka.polyfill.installAll();
  const video = document.getElementById('video');
  const player = new shaka.Player();
  await player.attach(video);
  const errors = [];
  player.addEventListener('error', (e) => errors.push(String(e.detail && e.detail.code)));
  if (license) player.configure({ drm: { servers: { 'org.w3.clearkey': license } } });
  if (licenseToken) {
    player.getNetworkingEngine().registerRequestFilter((type, request) => {
      if (type === shaka.net.NetworkingEngine.RequestType.LICENSE) request.headers.Authorization = `Bearer ${licenseToken}`;
    });
  }
  let finalUri = null;
  player.getNetworkingEngine().registerResponseFilter((type, response) => {
    if (type === shaka.net.NetworkingEngine.RequestType.MANIFEST) finalUri = response.uri;
  });
  try {
    await player.load(url);
  } catch (e) {
    return { played: false, error: `load: ${e.code || e}` };
  }
  // Not awaited: without a key, play() stays pending for ever.
  video.play().catch(() => {});
  const t0 = Date.now();
  while (video.currentTime < past && Date.now() - t0 < timeout && errors.length === 0) {
    await new Promise((r) => setTimeout(r, 200));
  }
  return { played: video.currentTime >= past, currentTime: video.currentTime, keySystem: player.keySystem(), finalUri, errors };
}, { url, license, licenseToken, past: PLAY_PAST, timeout: PLAY_TIMEOUT_MS });
console.log(JSON.stringify({ url, ...result, firstInit: inits[0] || null, logs: logs.slice(-20) }));
await browser.close();
process.exit(result.played ? 0 : 1);
