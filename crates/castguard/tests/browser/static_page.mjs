// Shared by the browser tests that play `castguard package` output with no
// server (codecs.mjs, subtitles.mjs): headless Debian Chromium through npm
// playwright-core (flags from shared/TESTING.md "Browsers"), and a page on
// a localhost origin (a secure context, as EME wants) whose requests are
// answered by playwright's router: the page itself, the player library
// from node_modules, and the files of one output folder under /media/.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const LIBS = {
  'shaka.js': 'node_modules/shaka-player/dist/shaka-player.compiled.js',
  'hls.js': 'node_modules/hls.js/dist/hls.min.js',
};
export const ORIGIN = 'http://localhost:9';
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>castguard</title></head>
<body style="margin:0;background:#000"><video id="video" muted playsinline style="width:640px;height:360px"></video></body></html>`;
const TYPES = {
  '.mpd': 'application/dash+xml', '.m3u8': 'application/vnd.apple.mpegurl', '.mp4': 'video/mp4',
  '.m4s': 'video/iso.segment', '.vtt': 'text/vtt', '.key': 'application/octet-stream',
};

/** `--name value` arguments: all values of a name, or the first. */
export function args() {
  const argv = process.argv.slice(2);
  const all = (name) => argv.flatMap((a, i) => (a === `--${name}` && i + 1 < argv.length ? [argv[i + 1]] : []));
  return { all, one: (name, dflt) => all(name)[0] ?? dflt };
}

export async function launch(executablePath) {
  for (const f of Object.values(LIBS)) {
    if (!fs.existsSync(path.join(ROOT, f))) {
      console.error(`${f} missing: run scripts/install-test-tools.sh`);
      process.exit(1);
    }
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
}

/** A page serving folder `dir` under `${ORIGIN}/media/`, with `lib` loaded;
 * `logs` collects console lines and page errors. */
export async function openPage(browser, dir, lib) {
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.route(`${ORIGIN}/**`, (route) => {
    const p = decodeURIComponent(new URL(route.request().url()).pathname);
    if (p === '/page.html') return route.fulfill({ status: 200, contentType: 'text/html', body: PAGE });
    const libFile = LIBS[p.slice(1)];
    if (libFile) return route.fulfill({ status: 200, contentType: 'text/javascript', path: path.join(ROOT, libFile) });
    const file = path.join(dir, path.normalize(p.replace(/^\/media\//, '')));
    if (!p.startsWith('/media/') || !file.startsWith(dir) || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'no' });
    return route.fulfill({ status: 200, contentType: TYPES[path.extname(file)] || 'application/octet-stream', path: file });
  });
  await page.goto(`${ORIGIN}/page.html`);
  await page.addScriptTag({ url: `${ORIGIN}/${lib}` });
  return { page, logs };
}

/** A page on a running server's own `origin` (so manifests, segments and
 * licenses are real HTTP to it), at a path the server does not have that
 * playwright answers, with `lib` (a LIBS name) loaded; `logs` collects
 * console lines and page errors. */
export async function openOnServer(browser, origin, lib) {
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const body = '<!doctype html><html><body><video id="video" muted playsinline></video></body></html>';
  await page.route(`${origin}/__castguard_test_page.html`, (r) =>
    r.fulfill({ status: 200, contentType: 'text/html', body }));
  await page.goto(`${origin}/__castguard_test_page.html`);
  await page.addScriptTag({ content: fs.readFileSync(path.join(ROOT, LIBS[lib]), 'utf8') });
  return { page, logs };
}

/** Base64url of a hex string (Clear Key ids and keys for shaka). */
export const b64url = (hex) => Buffer.from(hex, 'hex').toString('base64url');
