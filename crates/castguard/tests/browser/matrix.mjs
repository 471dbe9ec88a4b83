// The browser test matrix (issue 6, item 3), driven by browser_matrix.rs.
//
// Opens the server's /player page in headless Debian Chromium through npm
// playwright-core (flags from shared/TESTING.md "Browsers") and, for every
// protected demo stream (DASH cenc, DASH cbcs, HLS AES-128) and every demo
// user, checks what a viewer would see:
//   - entitled: the video plays past currentTime 3;
//   - outsider (not in EntitledUsers), expired token, no token: the page shows
//     a refusal (#status[data-state=refused]) naming the key delivery's reason
//     code, and the video does not advance.
// Each case saves a screenshot. Prints one JSON line per case and a final
// summary line; exits 1 when any case fails.
//
// Each case also reports the HTTP version of the page and of every stream
// and key request (`protocols`, from the Resource Timing API's
// nextHopProtocol: "http/1.1" or "h2").
//
//   node matrix.mjs --base http://127.0.0.1:PORT --shots DIR [--chromium /usr/bin/chromium]
//       [--users entitled,outsider] [--no-subtitles]
//       [--insecure]   (an HTTPS --base with a test certificate: Chromium
//                       ignores certificate errors; give Node the CA with
//                       NODE_EXTRA_CA_CERTS)
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const base = arg('base');
const shots = arg('shots', 'target/browser-screenshots');
const executablePath = arg('chromium', '/usr/bin/chromium');
if (!base) {
  console.error('usage: node matrix.mjs --base URL --shots DIR');
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });

const PROTECTIONS = ['cenc', 'cbcs', 'aes128'];
// user: demo user to ask a token for, or null for no token; expect: the reason
// code key delivery must give (null: must play).
const ALL_USERS = [
  { user: 'entitled', expect: null },
  { user: 'outsider', expect: 'claim_missing' },
  { user: 'expired', expect: 'token_expired' },
  { user: null, expect: 'token_missing' },
];
const only = arg('users');
const USERS = only ? ALL_USERS.filter((u) => only.split(',').includes(u.user || 'none')) : ALL_USERS;
const subtitlesToo = !process.argv.includes('--no-subtitles');
const insecure = process.argv.includes('--insecure');
const PLAY_PAST = 3;
const PLAY_TIMEOUT_MS = 25000;
const REFUSE_TIMEOUT_MS = 20000;
const STALL_WATCH_MS = 4000;

const demo = await (await fetch(`${base}/player/api/demo`)).json();
const streams = PROTECTIONS.map((p) => {
  const loc = (demo.locators || []).find((l) => l.protection === p);
  if (!loc) {
    console.error(`no demo locator with protection ${p} in /player/api/demo`);
    process.exit(1);
  }
  return loc;
});

// playwright gives the browser a fresh temporary profile (--user-data-dir).
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
    ...(insecure ? ['--ignore-certificate-errors'] : []),
  ],
});

let failures = 0;
try {
  for (const loc of streams) {
    for (const { user, expect } of USERS) {
      const started = Date.now();
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: insecure });
      const page = await context.newPage();
      const logs = [];
      page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      const licenseOrKey = [];
      page.on('response', (r) => {
        const u = new URL(r.url());
        if (u.pathname.startsWith('/keys/v1/')) {
          licenseOrKey.push({ path: u.pathname.replace(/\/aes\/.*/, '/aes/{kid}'), status: r.status(), auth: !!r.request().headers().authorization });
        }
      });
      const q = new URLSearchParams({ stream: loc.name });
      if (user) q.set('user', user);
      await page.goto(`${base}/player?${q}`);
      const result = { stream: loc.name, protection: loc.protection, user: user || 'none', expect: expect || 'plays' };
      try {
        if (expect === null) {
          await page.waitForFunction((t) => document.getElementById('video').currentTime > t, PLAY_PAST, { timeout: PLAY_TIMEOUT_MS });
        } else {
          await page.waitForSelector('#status[data-state="refused"]', { timeout: REFUSE_TIMEOUT_MS });
          // The refusal is shown; watch that the video does not play. Right
          // after load shaka nudges the position over the small gap before
          // the first frame (0 -> 0.1 -> 0.3 s here, in 0.1 s steps), so the
          // criterion is: STALL_WATCH_MS after the refusal the position is
          // still under 1 s (a playing video would be past 4 s by then).
          result.refusedAt = await page.evaluate(() => document.getElementById('video').currentTime);
          await page.waitForTimeout(STALL_WATCH_MS);
        }
      } catch (e) {
        result.waitError = e.message.split('\n')[0];
      }
      const s = await page.evaluate(() => ({
        currentTime: document.getElementById('video').currentTime,
        state: document.getElementById('status').dataset.state,
        title: document.getElementById('status-title').textContent,
        detail: document.getElementById('status-detail').textContent,
        keySystem: document.getElementById('key-system').textContent,
        protocols: [...new Set(performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
          .filter((e) => /\/(player|s|keys)\//.test(new URL(e.name).pathname + '/') && e.nextHopProtocol)
          .map((e) => e.nextHopProtocol))],
      }));
      Object.assign(result, s, { requests: licenseOrKey });
      const file = path.join(shots, `${loc.protection}-${user || 'no-token'}.png`);
      await page.screenshot({ path: file });
      result.screenshot = file;
      if (expect === null) {
        result.ok = s.currentTime > PLAY_PAST && s.state === 'playing';
      } else {
        result.ok = s.state === 'refused' && s.currentTime < 1 && s.title.includes(expect)
          && licenseOrKey.length > 0 && licenseOrKey.every((r) => r.status === 401);
      }
      result.ms = Date.now() - started;
      if (!result.ok) {
        failures += 1;
        result.logs = logs.slice(-15);
      }
      console.log(JSON.stringify(result));
      await context.close();
    }
  }
  // The demo's subtitles on the player page (issue 14): the entitled user
  // plays DASH cenc and HLS AES-128; the Subtitles list offers English and
  // French; with French chosen, the page shows the French cue inside its
  // time (1-4 s) and none in the gap after it (4-5 s).
  for (const loc of streams.filter((l) => subtitlesToo && l.protection !== 'cbcs')) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    const result = { subtitles: true, protection: loc.protection };
    try {
      await page.goto(`${base}/player?${new URLSearchParams({ stream: loc.name, user: 'entitled' })}`);
      await page.waitForFunction(() => document.getElementById('video').currentTime > 0.5, null, { timeout: PLAY_TIMEOUT_MS });
      await page.waitForFunction(() => document.querySelectorAll('#subtitles option').length >= 3, null, { timeout: 10000 });
      result.options = await page.evaluate(() => Array.from(document.querySelectorAll('#subtitles option')).map((o) => o.textContent));
      const fr = await page.evaluate(() => Array.from(document.querySelectorAll('#subtitles option')).find((o) => /^fr|French/.test(o.textContent))?.value);
      await page.selectOption('#subtitles', fr);
      // Let it play on a moment with the new text stream (shaka starts
      // fetching text while the video plays), as a viewer would.
      await page.waitForFunction(() => Array.from(document.getElementById('video').textTracks).some((t) => t.mode === 'showing' && t.cues && t.cues.length > 0), null, { timeout: 10000 }).catch(() => {});
      // Seeks (paused) and waits up to 8 s for the page to show `want`.
      const cueAt = async (t, want) => {
        await page.evaluate((t) => { const v = document.getElementById('video'); v.pause(); v.currentTime = t; }, t);
        await page.waitForFunction((w) => document.getElementById('cue').textContent === w, want, { timeout: 8000 }).catch(() => {});
        return page.evaluate(() => document.getElementById('cue').textContent);
      };
      const want = 'Bienvenue dans la démo de castguard.';
      result.inside = await cueAt(2.5, want);
      result.outside = await cueAt(4.5, '—');
      result.inside2 = await cueAt(3.5, want);
      const file = path.join(shots, `subtitles-${loc.protection}.png`);
      await page.screenshot({ path: file });
      result.screenshot = file;
    } catch (e) {
      result.error = e.message.split('\n')[0];
    }
    const want = 'Bienvenue dans la démo de castguard.';
    result.ok = result.inside === want && result.inside2 === want && result.outside === '—'
      && (result.options || []).some((o) => /^en|English/.test(o)) && (result.options || []).some((o) => /^fr|French/.test(o));
    if (!result.ok) {
      failures += 1;
      result.logs = logs.slice(-10);
    }
    console.log(JSON.stringify(result));
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ summary: true, cases: streams.length * USERS.length, failures }));
process.exit(failures ? 1 : 0);
