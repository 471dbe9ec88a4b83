// The demo ladder in three real players, driven by browser_ladder.rs.
//
// Headless Debian Chromium through npm playwright-core (flags from
// shared/TESTING.md "Browsers"). The players' dist builds come from
// node_modules and are served by this script on the castguard origin through
// playwright's request routing (a path the server does not have), so the page,
// the players, the manifests, the segments and key delivery share one origin
// and nothing is fetched from the network.
//
// Cases (one JSON line each, then a summary line; exit 1 when one fails):
//   shaka-player, DASH cenc / DASH cbcs (W3C Clear Key license from our key
//   delivery) and HLS AES-128, with the entitled demo token on LICENSE and
//   KEY requests only: plays; then, with ABR off, selectVariantTrack lowest
//   -> highest -> lowest rendition: after each switch the active variant's
//   height and video.videoHeight are the target's and the playhead advances
//   at least SWITCH_ADVANCE s, with no error event; a screenshot after each.
//   dash.js, DASH cenc with setProtectionData (Clear Key, the token in
//   httpRequestHeaders): plays past PLAY_PAST s. (dash.js 5.2.1 cannot use
//   an MPD that carries the W3C Common PSSH ContentProtection with Clear
//   Key, ours or Shaka Packager's: the page drops that element, see there.)
//   hls.js, HLS AES-128 with the token added by xhrSetup on key requests:
//   plays past PLAY_PAST s; without it: an error event, the key request is
//   answered 401, and the video stays under 1 s.
//
//   shaka-player, DASH cenc on a locator whose SD renditions and HD one are
//   under different keys and policies (--sd-only-locator, set up by the
//   Rust test), with a token entitled to SD only: the HD license is refused
//   (401), shaka drops the 720p variant and plays SD, with no error event.
//
//   node ladder.mjs --base http://127.0.0.1:PORT --shots DIR [--chromium /usr/bin/chromium]
//                   [--sd-only-locator UUID]
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const base = arg('base');
const shots = arg('shots', 'target/browser-screenshots');
const executablePath = arg('chromium', '/usr/bin/chromium');
const sdOnlyLocator = arg('sd-only-locator');
if (!base) {
  console.error('usage: node ladder.mjs --base URL --shots DIR');
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const LIBS = {
  'shaka.js': 'node_modules/shaka-player/dist/shaka-player.compiled.js',
  'dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
  'hls.js': 'node_modules/hls.js/dist/hls.min.js',
};
for (const f of Object.values(LIBS)) {
  if (!fs.existsSync(path.join(ROOT, f))) {
    console.error(`${f} missing: run scripts/install-test-tools.sh`);
    process.exit(1);
  }
}
// Not a castguard route: answered here, never by the server.
const PREFIX = '/__ladder-test/';
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>castguard ladder</title>
<style>body{margin:0;background:#111;color:#eee;font:14px sans-serif}video{width:960px;height:540px;background:#000;display:block}</style>
</head><body><video id="video" muted playsinline></video><pre id="info"></pre></body></html>`;

const PLAY_PAST = 3;
const FIRST_PLAY_TIMEOUT_MS = 25000;
const SWITCH_TIMEOUT_MS = 15000;
const SWITCH_ADVANCE = 1;
const STALL_WATCH_MS = 4000;
const REFUSE_TIMEOUT_MS = 20000;

const demo = await (await fetch(`${base}/player/api/demo`)).json();
function locator(protection) {
  const loc = (demo.locators || []).find((l) => l.protection === protection);
  if (!loc) {
    console.error(`no demo locator with protection ${protection} in /player/api/demo`);
    process.exit(1);
  }
  return { name: loc.name, url: new URL(loc.manifest, base).href };
}
const clearkeyServer = (demo.licenseServers || {})['org.w3.clearkey'];
if (!clearkeyServer) {
  console.error('/player/api/demo names no org.w3.clearkey license server');
  process.exit(1);
}
const tokenRes = await fetch(`${base}/player/api/demo-token`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ user: 'entitled' }),
});
if (!tokenRes.ok) {
  console.error(`POST /player/api/demo-token: ${tokenRes.status}`);
  process.exit(1);
}
const token = (await tokenRes.json()).token;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
  ],
});

/** A fresh page on the castguard origin with `lib` loaded; records license,
 * key and media requests (status, whether Authorization was sent). */
async function openPage(lib) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const requests = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.origin !== new URL(base).origin || u.pathname.startsWith(PREFIX)) return;
    const kind = u.pathname.startsWith('/keys/') ? 'key' : u.pathname.startsWith('/s/') ? 'media' : 'other';
    requests.push({ kind, path: u.pathname, status: r.status(), auth: !!r.request().headers().authorization });
  });
  await page.route(`${base}${PREFIX}**`, (route) => {
    const name = new URL(route.request().url()).pathname.slice(PREFIX.length);
    if (name === 'page.html') return route.fulfill({ status: 200, contentType: 'text/html', body: PAGE });
    if (LIBS[name]) return route.fulfill({ status: 200, contentType: 'text/javascript', path: path.join(ROOT, LIBS[name]) });
    return route.fulfill({ status: 404, body: 'not here' });
  });
  await page.goto(`${base}${PREFIX}page.html`);
  await page.addScriptTag({ url: `${base}${PREFIX}${lib}` });
  return { context, page, logs, requests };
}

/** Saves a screenshot, with a caption saying what the video shows. */
async function shot(page, name, note = '') {
  await page.evaluate(({ n, note }) => {
    const v = document.getElementById('video');
    document.getElementById('info').textContent =
      `${n}: videoHeight ${v.videoHeight}, currentTime ${v.currentTime.toFixed(2)} s${note ? '\n' + note : ''}`;
  }, { n: name, note });
  const file = path.join(shots, `ladder-${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

const videoState = (page) => page.evaluate(() => {
  const v = document.getElementById('video');
  return { currentTime: v.currentTime, videoHeight: v.videoHeight, paused: v.paused, ended: v.ended };
});

/** Media and manifest requests must go without the token; key and license
 * requests with it (when `withToken`). */
function tokenPlacementOk(requests, withToken) {
  return requests.every((r) => (r.kind === 'key' ? r.auth === withToken : !r.auth));
}

/** shaka-player in `page` (as window.player) loads `url` and plays, with the
 * entitled token on LICENSE and KEY requests only, Clear Key from our key
 * delivery, and ABR as asked; error events go to window.errors. The load
 * error, or null. */
function shakaLoad(page, url, { abr }) {
  return page.evaluate(async ({ url, token, clearkeyServer, abr }) => {
    shaka.polyfill.installAll();
    const video = document.getElementById('video');
    const player = new shaka.Player();
    await player.attach(video);
    window.errors = [];
    player.addEventListener('error', (e) => window.errors.push(`${e.detail.code}`));
    player.getNetworkingEngine().registerRequestFilter((type, request) => {
      const T = shaka.net.NetworkingEngine.RequestType;
      if (type === T.LICENSE || type === T.KEY) request.headers['Authorization'] = 'Bearer ' + token;
    });
    player.configure({ abr: { enabled: abr }, drm: { servers: { 'org.w3.clearkey': clearkeyServer } } });
    window.player = player;
    try {
      await player.load(url);
    } catch (e) {
      return `load: ${e.code || e.message || e}`;
    }
    await video.play().catch(() => {});
    return null;
  }, { url, token, clearkeyServer, abr });
}

async function shakaLadder(protection) {
  const loc = locator(protection);
  const result = { player: 'shaka', protection, stream: loc.name, switches: [], screenshots: [] };
  const { context, page, logs, requests } = await openPage('shaka.js');
  try {
    result.loadError = await shakaLoad(page, loc.url, { abr: false });
    await page.waitForFunction(() => document.getElementById('video').currentTime > 0.5, null, { timeout: FIRST_PLAY_TIMEOUT_MS });
    const heights = await page.evaluate(() => [...new Set(player.getVariantTracks().map((t) => t.height))].sort((a, b) => a - b));
    result.heights = heights;
    const low = heights[0];
    const high = heights[heights.length - 1];
    for (const [i, target] of [low, high, low].entries()) {
      const before = await page.evaluate((h) => {
        const tracks = player.getVariantTracks();
        const active = tracks.find((t) => t.active);
        const candidates = tracks.filter((t) => t.height === h);
        const track = candidates.find((t) => active && t.audioId === active.audioId) || candidates[0];
        const t0 = document.getElementById('video').currentTime;
        player.selectVariantTrack(track, /* clearBuffer */ true);
        return { t0, bandwidth: track.bandwidth };
      }, target);
      const step = { target, from: before.t0, bandwidth: before.bandwidth };
      try {
        await page.waitForFunction(({ h, t0, adv }) => {
          const v = document.getElementById('video');
          const a = player.getVariantTracks().find((t) => t.active);
          return a && a.height === h && v.videoHeight === h && v.currentTime > t0 + adv;
        }, { h: target, t0: before.t0, adv: SWITCH_ADVANCE }, { timeout: SWITCH_TIMEOUT_MS });
      } catch (e) {
        step.waitError = e.message.split('\n')[0];
      }
      Object.assign(step, await videoState(page));
      step.activeHeight = await page.evaluate(() => (player.getVariantTracks().find((t) => t.active) || {}).height);
      result.screenshots.push(await shot(page, `shaka-${protection}-${i + 1}-${target}p`));
      result.switches.push(step);
      if (step.waitError) break;
    }
  } catch (e) {
    result.waitError = e.message.split('\n')[0];
  }
  result.errors = await page.evaluate(() => window.errors || []).catch(() => ['page gone']);
  Object.assign(result, await videoState(page).catch(() => ({})));
  result.keyRequests = requests.filter((r) => r.kind === 'key').map((r) => r.status);
  result.tokenPlacementOk = tokenPlacementOk(requests, true);
  const want = result.heights ? [result.heights[0], result.heights[result.heights.length - 1], result.heights[0]] : [];
  result.ok = !result.loadError && !result.waitError && result.errors.length === 0
    && result.heights.length >= 2 && result.switches.length === 3
    && result.switches.every((s, i) => !s.waitError && s.activeHeight === want[i] && s.videoHeight === want[i] && s.currentTime > s.from + SWITCH_ADVANCE)
    && result.keyRequests.length > 0 && result.keyRequests.every((s) => s === 200)
    && result.tokenPlacementOk;
  if (!result.ok) result.logs = logs.slice(-15);
  await context.close();
  return result;
}

async function dashjsCenc() {
  const loc = locator('cenc');
  const result = { player: 'dashjs', protection: 'cenc', stream: loc.name };
  const { context, page, logs, requests } = await openPage('dash.js');
  try {
    await page.evaluate(({ url, token, clearkeyServer }) => {
      const video = document.getElementById('video');
      window.errors = [];
      const player = dashjs.MediaPlayer().create();
      player.initialize(video, null, true);
      player.setProtectionData({
        'org.w3.clearkey': { serverURL: clearkeyServer, httpRequestHeaders: { Authorization: 'Bearer ' + token } },
      });
      player.on(dashjs.MediaPlayer.events.ERROR, (e) => window.errors.push(JSON.stringify(e.error || e).slice(0, 300)));
      player.on(dashjs.MediaPlayer.events.PLAYBACK_ERROR, (e) => window.errors.push(`playback: ${e.error}`));
      window.player = player;
      player.attachSource(url);
    }, { url: loc.url, token, clearkeyServer });
    await page.waitForFunction((t) => document.getElementById('video').currentTime > t, PLAY_PAST, { timeout: FIRST_PLAY_TIMEOUT_MS });
  } catch (e) {
    result.waitError = e.message.split('\n')[0];
  }
  result.errors = await page.evaluate(() => window.errors || []).catch(() => ['page gone']);
  Object.assign(result, await videoState(page));
  result.screenshots = [await shot(page, 'dashjs-cenc')];
  result.keyRequests = requests.filter((r) => r.kind === 'key').map((r) => r.status);
  result.tokenPlacementOk = tokenPlacementOk(requests, true);
  result.ok = !result.waitError && result.errors.length === 0 && result.currentTime > PLAY_PAST
    && result.keyRequests.length > 0 && result.keyRequests.every((s) => s === 200) && result.tokenPlacementOk;
  if (!result.ok) result.logs = logs.slice(-15);
  await context.close();
  return result;
}

/** An SD-only entitlement on a ladder keyed by class: plays SD, never HD. */
async function shakaSdOnly() {
  const url = `${base}/s/${sdOnlyLocator}/cenc/manifest.mpd`;
  const result = { player: 'shaka', protection: 'cenc', stream: `sd-only ${sdOnlyLocator}`, screenshots: [] };
  const { context, page, logs, requests } = await openPage('shaka.js');
  try {
    result.loadError = await shakaLoad(page, url, { abr: true });
    await page.waitForFunction((t) => document.getElementById('video').currentTime > t, PLAY_PAST, { timeout: FIRST_PLAY_TIMEOUT_MS });
  } catch (e) {
    result.waitError = e.message.split('\n')[0];
  }
  result.heights = await page.evaluate(() => [...new Set(player.getVariantTracks().map((t) => t.height))].sort((a, b) => a - b)).catch(() => []);
  result.errors = await page.evaluate(() => window.errors || []).catch(() => ['page gone']);
  Object.assign(result, await videoState(page).catch(() => ({})));
  result.screenshots.push(await shot(page, 'shaka-cenc-sd-only', `variants ${result.heights.join('/')}`));
  result.keyRequests = requests.filter((r) => r.kind === 'key').map((r) => r.status);
  result.ok = !result.loadError && !result.waitError && result.errors.length === 0
    && result.currentTime > PLAY_PAST && result.videoHeight > 0 && result.videoHeight <= 360
    && result.heights.length > 0 && result.heights.every((h) => h <= 360)
    && result.keyRequests.includes(200) && result.keyRequests.includes(401);
  if (!result.ok) result.logs = logs.slice(-15);
  await context.close();
  return result;
}

async function hlsjsAes128(withToken) {
  const loc = locator('aes128');
  const result = { player: 'hlsjs', protection: 'aes128', stream: loc.name, user: withToken ? 'entitled' : 'none' };
  const { context, page, logs, requests } = await openPage('hls.js');
  try {
    await page.evaluate(({ url, token }) => {
      const video = document.getElementById('video');
      window.errors = [];
      const hls = new Hls({
        xhrSetup(xhr, u) {
          if (token && new URL(u, location.href).pathname.startsWith('/keys/')) {
            xhr.open('GET', u, true);
            xhr.setRequestHeader('Authorization', 'Bearer ' + token);
          }
        },
      });
      hls.on(Hls.Events.ERROR, (_, d) => window.errors.push({
        type: d.type, details: d.details, fatal: !!d.fatal, status: d.response ? d.response.code : null,
      }));
      window.hls = hls;
      hls.loadSource(url);
      hls.attachMedia(video);
      video.play().catch(() => {});
    }, { url: loc.url, token: withToken ? token : null });
    if (withToken) {
      await page.waitForFunction((t) => document.getElementById('video').currentTime > t, PLAY_PAST, { timeout: FIRST_PLAY_TIMEOUT_MS });
    } else {
      await page.waitForFunction(() => window.errors.some((e) => /key/i.test(e.details)), null, { timeout: REFUSE_TIMEOUT_MS });
      // A playing video would be past 4 s by now.
      await page.waitForTimeout(STALL_WATCH_MS);
    }
  } catch (e) {
    result.waitError = e.message.split('\n')[0];
  }
  result.errors = await page.evaluate(() => window.errors || []).catch(() => [{ details: 'page gone' }]);
  Object.assign(result, await videoState(page));
  const note = result.errors.map((e) => `hls.js error: ${e.details} (HTTP ${e.status}${e.fatal ? ', fatal' : ''})`).slice(-3).join('\n');
  result.screenshots = [await shot(page, `hlsjs-aes128-${withToken ? 'entitled' : 'no-token'}`, note)];
  result.keyRequests = requests.filter((r) => r.kind === 'key').map((r) => r.status);
  result.tokenPlacementOk = tokenPlacementOk(requests, withToken);
  if (withToken) {
    result.ok = !result.waitError && result.errors.filter((e) => e.fatal).length === 0 && result.currentTime > PLAY_PAST
      && result.keyRequests.length > 0 && result.keyRequests.every((s) => s === 200) && result.tokenPlacementOk;
  } else {
    result.ok = !result.waitError && result.currentTime < 1
      && result.errors.some((e) => /key/i.test(e.details))
      && result.keyRequests.length > 0 && result.keyRequests.every((s) => s === 401) && result.tokenPlacementOk;
  }
  if (!result.ok) result.logs = logs.slice(-15);
  await context.close();
  return result;
}

let failures = 0;
let cases = 0;
const only = arg('only');
const CASES = [
  ['shaka-cenc', () => shakaLadder('cenc')],
  ['shaka-cbcs', () => shakaLadder('cbcs')],
  ['shaka-aes128', () => shakaLadder('aes128')],
  ['dashjs-cenc', () => dashjsCenc()],
  ['hlsjs-aes128-entitled', () => hlsjsAes128(true)],
  ['hlsjs-aes128-no-token', () => hlsjsAes128(false)],
];
if (sdOnlyLocator) CASES.push(['shaka-cenc-sd-only', () => shakaSdOnly()]);
try {
  for (const [name, run] of CASES) {
    if (only && !name.startsWith(only)) continue;
    const started = Date.now();
    let r;
    try {
      r = await run();
    } catch (e) {
      r = { ok: false, thrown: String(e && e.stack || e) };
    }
    r.case = name;
    r.ms = Date.now() - started;
    cases += 1;
    if (!r.ok) failures += 1;
    console.log(JSON.stringify(r));
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ summary: true, cases, failures }));
process.exit(failures ? 1 : 0);
