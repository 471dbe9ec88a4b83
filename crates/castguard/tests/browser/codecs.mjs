// Audio codecs in a real browser (issue 13), driven by browser_codecs.rs.
//
// Plays packaged titles (castguard package output folders) with
// shaka-player in headless Debian Chromium (npm playwright-core, flags from
// shared/TESTING.md "Browsers"), encrypted, with the Clear Key key given to
// shaka (`drm.clearKeys`): no server, the folders are answered by
// playwright's router on a localhost origin (a secure context, as EME
// wants). A case passes when the video plays past 3 s, Chromium decoded
// audio (`webkitAudioDecodedByteCount` grows), the active variant has the
// expected audio codec and no error event fired. Prints one JSON line per
// case; exits 1 when any case fails.
//
//   node codecs.mjs --case NAME=DIR/manifest.mpd=CODEC ... --clearkey KIDHEX:KEYHEX
//        [--chromium /usr/bin/chromium] [--shots DIR]
import fs from 'node:fs';
import path from 'node:path';
import { ORIGIN, args, b64url, launch, openPage } from './static_page.mjs';

const { all, one } = args();
const cases = all('case').map((c) => {
  const [name, mpd, codec] = c.split('=');
  return { name, mpd, codec };
});
const [kid, key] = (one('clearkey', '') || '').split(':');
const shots = one('shots', 'target/browser-screenshots');
if (!cases.length || !kid || !key) {
  console.error('usage: node codecs.mjs --case NAME=MPD=CODEC ... --clearkey KID:KEY');
  process.exit(2);
}
fs.mkdirSync(shots, { recursive: true });
const browser = await launch(one('chromium', '/usr/bin/chromium'));

async function play(c) {
  const { page, logs } = await openPage(browser, path.dirname(c.mpd), 'shaka.js');
  const result = await page.evaluate(async ({ manifest, kid, key }) => {
    const video = document.getElementById('video');
    const player = new shaka.Player();
    await player.attach(video);
    const errors = [];
    player.addEventListener('error', (e) => errors.push(String(e.detail && e.detail.code)));
    player.configure({ drm: { clearKeys: { [kid]: key } }, abr: { enabled: false } });
    try {
      await player.load(manifest);
    } catch (e) {
      return { loaded: false, errors: [String(e.code || e)] };
    }
    video.play().catch(() => {});
    const start = Date.now();
    while (video.currentTime < 3.5 && Date.now() - start < 30000 && !errors.length) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const active = player.getVariantTracks().find((t) => t.active) || {};
    return {
      loaded: true,
      currentTime: video.currentTime,
      audioBytes: video.webkitAudioDecodedByteCount,
      videoBytes: video.webkitVideoDecodedByteCount,
      audioCodec: active.audioCodec,
      errors,
    };
  }, { manifest: `${ORIGIN}/media/${path.basename(c.mpd)}`, kid: b64url(kid), key: b64url(key) });
  await page.screenshot({ path: path.join(shots, `codecs-${c.name}.png`) });
  await page.close();
  const ok = result.loaded && result.currentTime > 3 && result.audioBytes > 0 && result.audioCodec === c.codec && !result.errors.length;
  return { case: c.name, ok, ...result, logs: ok ? [] : logs.slice(-10) };
}

let failed = 0;
for (const c of cases) {
  let r;
  try {
    r = await play(c);
  } catch (e) {
    r = { case: c.name, ok: false, error: String(e) };
  }
  if (!r.ok) failed += 1;
  console.log(JSON.stringify(r));
}
await browser.close();
process.exit(failed ? 1 : 0);
