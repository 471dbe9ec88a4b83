// Subtitles in real players (issue 14), driven by browser_subtitles.rs.
//
// Plays `castguard package` output with subtitles in headless Chromium
// (static_page.mjs: no server, the folder answered by playwright's router):
//   - shaka-player on DASH cenc (Clear Key key given to shaka) and on HLS
//     AES-128 (the key file of the output folder);
//   - hls.js on the same HLS.
// For each case: the player lists every expected subtitle language; for
// each language, once selected, at the middle of every expected cue the
// video's showing text track has exactly that cue active, in a gap between
// cues none; and the cues the player built (pieces of one cue split at
// segment boundaries merged) start and end at the source file's times to
// the millisecond. Times are the source's presentation times moved by where
// the player put the media: `--media-start S` is the source time at which
// both audio and video are present (ffprobe's latest stream start), and a
// player that shows that instant at currentTime S' (hls.js and shaka on
// HLS start the timeline at the first frame; DASH keeps the MPD's times)
// must show every cue S' - S later, to the millisecond.
// Prints one JSON line per case (with the track names the
// player lists, `labels`); exits 1 when any fails.
//
//   node subtitles.mjs --dash DIR/manifest.mpd --hls DIR/master.m3u8 --expect CUES.json
//        --clearkey KID:KEY [--media-start SECS] [--chromium PATH] [--shots DIR]
// CUES.json: {"en": [[startMs, endMs, "text"], ...], "fr": [...]}
import fs from 'node:fs';
import path from 'node:path';
import { ORIGIN, args, b64url, launch, openPage } from './static_page.mjs';

const { one } = args();
const dash = one('dash');
const hls = one('hls');
const expect = JSON.parse(fs.readFileSync(one('expect'), 'utf8'));
const [kid, key] = (one('clearkey', '') || '').split(':');
const shots = one('shots', 'target/browser-screenshots');
const sourceStart = Number(one('media-start', '0'));
fs.mkdirSync(shots, { recursive: true });
const browser = await launch(one('chromium', '/usr/bin/chromium'));

// In the page: helpers to seek and read the showing text track.
const PAGE_HELPERS = () => {
  window.castguardBuffers = [];
  const add = MediaSource.prototype.addSourceBuffer;
  MediaSource.prototype.addSourceBuffer = function (type) {
    const b = add.call(this, type);
    window.castguardBuffers.push(b);
    return b;
  };
  window.castguard = {
    video: () => document.getElementById('video'),
    showing: () => Array.from(document.getElementById('video').textTracks).filter((t) => t.mode === 'showing'),
    active: () => castguard.showing().flatMap((t) => Array.from(t.activeCues || []).map((c) => c.text)),
    all: () => castguard.showing().flatMap((t) => Array.from(t.cues || []).map((c) => [Math.round(c.startTime * 1000), Math.round(c.endTime * 1000), c.text])),
    // Where the player put the start of the media: the latest first
    // buffered time of its audio and video SourceBuffers (recorded as the
    // player adds them), once each has media.
    mediaStart: async () => {
      const start = Date.now();
      const ready = () => window.castguardBuffers.length >= 2 && window.castguardBuffers.every((b) => { try { return b.buffered.length > 0; } catch { return false; } });
      while (!ready() && Date.now() - start < 10000) await new Promise((r) => setTimeout(r, 50));
      return ready() ? Math.max(...window.castguardBuffers.map((b) => b.buffered.start(0))) : null;
    },
    seek: async (t) => {
      const v = castguard.video();
      v.currentTime = t;
      const start = Date.now();
      while ((v.seeking || v.readyState < 2) && Date.now() - start < 10000) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 400));
    },
  };
};

/** Merges pieces of one cue (same text, end of one = start of next). */
function merged(cues) {
  const sorted = [...cues].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out = [];
  for (const c of sorted) {
    const same = out.find((o) => o[2] === c[2] && o[1] === c[0]);
    if (same) same[1] = Math.max(same[1], c[1]);
    else if (!out.some((o) => o[0] === c[0] && o[1] === c[1] && o[2] === c[2])) out.push([...c]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/**
 * The cues of `want` where a player that put the source's `sourceStart` at
 * `mediaStart` shows them: moved by the difference, cut at 0.
 */
function onPlayerTimeline(want, mediaStart) {
  const shift = Math.round(((mediaStart ?? sourceStart) - sourceStart) * 1000);
  return want.map(([s, e, t]) => [Math.max(0, s + shift), e + shift, t]).filter(([s, e]) => e > s);
}

/** Checks every cue of `want` with the page's player on `lang` selected. */
async function checkCues(page, name, lang, sourceWant, mediaStart) {
  const problems = [];
  const want = onPlayerTimeline(sourceWant, mediaStart);
  const norm = (t) => t.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();
  for (const [start, end, text] of want) {
    await page.evaluate((t) => castguard.seek(t), (start + end) / 2000);
    let active = [];
    for (let i = 0; i < 20; i++) {
      active = await page.evaluate(() => castguard.active());
      if (active.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (active.length !== 1 || norm(active[0]) !== norm(text)) problems.push(`${lang} at ${(start + end) / 2000}s: active ${JSON.stringify(active)}, want ${JSON.stringify(text)}`);
  }
  // A gap: just before the first cue, and between the first two.
  const gaps = [want[0][0] / 2000];
  if (want.length > 1 && want[1][0] > want[0][1]) gaps.push((want[0][1] + want[1][0]) / 2000);
  for (const g of gaps) {
    if (mediaStart != null && g < mediaStart + 0.05) continue; // no media there yet
    await page.evaluate((t) => castguard.seek(t), g);
    const active = await page.evaluate(() => castguard.active());
    if (active.length) problems.push(`${lang} at ${g}s (no cue): active ${JSON.stringify(active)}`);
  }
  await page.evaluate((t) => castguard.seek(t), (want[0][0] + want[0][1]) / 2000);
  await page.screenshot({ path: path.join(shots, `subtitles-${name}-${lang}.png`) });
  const got = merged(await page.evaluate(() => castguard.all()).then((cs) => cs.map((c) => [c[0], c[1], norm(c[2])])));
  for (const [start, end, text] of want) {
    if (!got.some((c) => c[0] === start && c[1] === end && c[2] === norm(text))) problems.push(`${lang}: no cue ${start}-${end} ms ${JSON.stringify(text)} in ${JSON.stringify(got)}`);
  }
  return problems;
}

async function shakaCase(name, manifest, drm) {
  const { page, logs } = await openPage(browser, path.dirname(manifest), 'shaka.js');
  await page.evaluate(PAGE_HELPERS);
  const loaded = await page.evaluate(async ({ manifest, drm }) => {
    const player = new shaka.Player();
    window.player = player;
    await player.attach(castguard.video());
    window.errors = [];
    player.addEventListener('error', (e) => window.errors.push(String(e.detail && e.detail.code)));
    player.configure({ drm, abr: { enabled: false } });
    try {
      await player.load(manifest);
    } catch (e) {
      return { error: String(e.code || e) };
    }
    // shaka 5: the languages of its text tracks (and the names its menu
    // shows); selecting one shows it.
    const tracks = player.getTextTracks();
    return { languages: [...new Set(tracks.map((t) => t.language))], labels: [...new Set(tracks.map((t) => t.label).filter(Boolean))], mediaStart: await castguard.mediaStart() };
  }, { manifest: `${ORIGIN}/media/${path.basename(manifest)}`, drm });
  const problems = [];
  let empty = 0;
  if (loaded.error) problems.push(`load: ${loaded.error}`);
  for (const lang of Object.keys(expect)) {
    if (loaded.error) break;
    if (!(loaded.languages || []).includes(lang)) problems.push(`languages ${JSON.stringify(loaded.languages)} lack ${lang}`);
    empty += await page.evaluate(async (l) => {
      const pick = (lang) => player.getTextTracks().find((x) => x.language === lang && x.mimeType !== 'text/vtt') || player.getTextTracks().find((x) => x.language === lang);
      const cuesWithin = async (ms) => {
        for (let i = 0; i < ms / 100; i++) {
          if (castguard.all().length) return true;
          await new Promise((r) => setTimeout(r, 100));
        }
        return false;
      };
      player.selectTextTrack(pick(l));
      // shaka keeps the previous track's cues a moment after a switch.
      await new Promise((r) => setTimeout(r, 500));
      return (await cuesWithin(3000)) ? 0 : 1;
    }, lang);
    problems.push(...(await checkCues(page, name, lang, expect[lang], loaded.mediaStart)));
  }
  const errors = await page.evaluate(() => window.errors);
  if (errors.length) problems.push(`error events ${errors}`);
  await page.close();
  return { case: name, ok: !problems.length, languages: loaded.languages, labels: loaded.labels, mediaStart: loaded.mediaStart, empty, problems, logs: problems.length ? logs.slice(-8) : [] };
}

async function hlsjsCase(name, manifest) {
  const { page, logs } = await openPage(browser, path.dirname(manifest), 'hls.js');
  await page.evaluate(PAGE_HELPERS);
  const loaded = await page.evaluate(async (url) => {
    const hls = new Hls({ subtitleDisplay: true, renderTextTracksNatively: true });
    window.hls = hls;
    window.errors = [];
    hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) window.errors.push(d.details); });
    const parsed = new Promise((r) => hls.on(Hls.Events.MANIFEST_PARSED, r));
    hls.loadSource(url);
    hls.attachMedia(castguard.video());
    await parsed;
    return { languages: hls.subtitleTracks.map((t) => t.lang), labels: hls.subtitleTracks.map((t) => t.name), mediaStart: await castguard.mediaStart() };
  }, `${ORIGIN}/media/${path.basename(manifest)}`);
  const problems = [];
  for (const lang of Object.keys(expect)) {
    if (!loaded.languages.includes(lang)) problems.push(`languages ${JSON.stringify(loaded.languages)} lack ${lang}`);
    await page.evaluate(async (l) => {
      hls.subtitleTrack = hls.subtitleTracks.findIndex((t) => t.lang === l);
      hls.subtitleDisplay = true;
      await new Promise((r) => setTimeout(r, 800));
    }, lang);
    problems.push(...(await checkCues(page, name, lang, expect[lang], loaded.mediaStart)));
  }
  const errors = await page.evaluate(() => window.errors);
  if (errors.length) problems.push(`fatal errors ${errors}`);
  await page.close();
  return { case: name, ok: !problems.length, languages: loaded.languages, labels: loaded.labels, mediaStart: loaded.mediaStart, problems, logs: problems.length ? logs.slice(-8) : [] };
}

const results = [];
const only = one('only');
if (dash && (!only || only === 'shaka-dash')) results.push(await shakaCase('shaka-dash-cenc', dash, { clearKeys: { [b64url(kid)]: b64url(key) } }).catch((e) => ({ case: 'shaka-dash-cenc', ok: false, error: String(e) })));
if (hls && (!only || only === 'shaka-hls')) {
  // shaka 5 on HLS, about one load in four (either input, any start
  // offset): the text segments are fetched and the selected track never
  // gets a cue, and choosing it again does not help. A new page then
  // plays it right; the attempts are reported. A track that has cues at
  // wrong times is never tried again.
  let r;
  for (let attempt = 1; attempt <= 3; attempt++) {
    r = await shakaCase('shaka-hls-aes128', hls, {}).catch((e) => ({ case: 'shaka-hls-aes128', ok: false, error: String(e) }));
    r.attempts = attempt;
    if (r.ok || !r.empty) break;
  }
  results.push(r);
}
if (hls && (!only || only === 'hlsjs')) results.push(await hlsjsCase('hlsjs-hls-aes128', hls).catch((e) => ({ case: 'hlsjs-hls-aes128', ok: false, error: String(e) })));
for (const r of results) console.log(JSON.stringify(r));
await browser.close();
process.exit(results.every((r) => r.ok) ? 0 : 1);
