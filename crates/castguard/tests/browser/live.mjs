// Plays a live stream (DASH MPD or HLS master playlist) from a running
// castguard with shaka-player in headless Debian Chromium (driven by the
// live_*e2e.rs tests), the way play_url.mjs plays VOD: the page is on the
// server's own origin, requests are real HTTP to it, and the bearer token
// goes on Clear Key license requests and HLS AES-128 key requests.
//
//   node live.mjs --url MPD|M3U8 [--clearkey-license URL] --token JWT [--watch SECONDS]
//                 [--switch] [--chromium PATH]
//
// With --switch (a ladder), after the watch ABR is turned off and the
// player is made to select the lowest, then the highest, then the lowest
// video rendition; each switch must show in the active variant and in
// video.videoHeight within SWITCH_TIMEOUT_MS while the playhead advances.
//
// Once playback starts, watches it for --watch seconds (default 10) and
// prints one JSON line: whether it played, whether shaka saw a live stream,
// the playhead's advance against the wall clock over the watch (rate), and
// the live latency at the end: the wall clock minus the wall-clock time of
// the frame on screen (the MPD's availabilityStartTime plus currentTime),
// and shaka's own `getStats().liveLatency`, with where it comes from (the
// live point and seek range at load, the start-up time). It also samples,
// every half second of the watch, how far the newest media the player has
// fetched (the end of the buffered range holding the playhead) is behind
// the wall clock: the live edge the player sees (`edgeLags`, and their
// largest over the second half of the watch, once the player has fetched
// its way from its held-back start position to the edge: `edgeLagMax`). Wall-clock
// times of media: DASH availabilityStartTime plus the position; HLS
// shaka's `getPlayheadTimeAsDate` (EXT-X-PROGRAM-DATE-TIME). Exits 1 unless it
// played (and, with --switch, switched).
import { args, launch, openOnServer } from './static_page.mjs';

const a = args();
const url = a.one('url');
const license = a.one('clearkey-license');
const token = a.one('token');
const watch = Number(a.one('watch', '10'));
const doSwitch = process.argv.includes('--switch');
if (!url) {
  console.error('usage: node live.mjs --url MPD|M3U8 [--clearkey-license URL] --token JWT');
  process.exit(2);
}
const START_TIMEOUT_MS = 20000;
const SWITCH_TIMEOUT_MS = 12000;
// Whatever happens, one line and an exit within this.
const DEADLINE_MS = START_TIMEOUT_MS + (watch + 20) * 1000 + (doSwitch ? 3 * SWITCH_TIMEOUT_MS : 0);
setTimeout(() => {
  console.log(JSON.stringify({ url, played: false, error: 'deadline' }));
  process.exit(1);
}, DEADLINE_MS).unref();

const browser = await launch(a.one('chromium', '/usr/bin/chromium'));
const { page, logs } = await openOnServer(browser, new URL(url).origin, 'shaka.js');
const result = await page.evaluate(async ({ url, license, token, watch, startTimeout, doSwitch, switchTimeout }) => {
  shaka.polyfill.installAll();
  const video = document.getElementById('video');
  const player = new shaka.Player();
  await player.attach(video);
  const errors = [];
  player.addEventListener('error', (e) => errors.push(String(e.detail && e.detail.code)));
  if (license) player.configure({ drm: { servers: { 'org.w3.clearkey': license } } });
  const T = shaka.net.NetworkingEngine.RequestType;
  player.getNetworkingEngine().registerRequestFilter((type, request) => {
    if ((type === T.LICENSE || type === T.KEY) && token) {
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
  // Seconds the media at the playhead is behind the wall clock, and the
  // newest buffered media around the playhead.
  const dash = new URL(url).pathname.endsWith('.mpd');
  const lag = () => {
    // DASH: availabilityStartTime plus the position (what shaka's own
    // liveLatency counts from; getPlayheadTimeAsDate was seen 10 s off it
    // for a player that loaded at the very first segments); HLS: the
    // EXT-X-PROGRAM-DATE-TIME mapping shaka keeps.
    const ast = dash && player.getPresentationStartTimeAsDate();
    const d = ast ? new Date(ast.getTime() + video.currentTime * 1000) : player.getPlayheadTimeAsDate();
    if (!d) return null;
    const behind = (Date.now() - d.getTime()) / 1000;
    let ahead = 0;
    for (let i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= video.currentTime + 0.1 && video.currentTime <= video.buffered.end(i)) {
        ahead = video.buffered.end(i) - video.currentTime;
      }
    }
    return { playhead: behind, edge: behind - ahead };
  };
  const from = { wall: Date.now(), ct: video.currentTime };
  let edgeLagMax = null;
  const edgeLags = [];
  while (Date.now() - from.wall < watch * 1000) {
    await new Promise((r) => setTimeout(r, 500));
    const l = lag();
    if (l) edgeLags.push(Math.round(l.edge * 100) / 100);
    // Over the second half of the watch: first the player fetches its way
    // from the start position (held back from the edge) to the edge.
    const settled = Date.now() - from.wall >= (watch * 1000) / 2;
    if (l && settled && (edgeLagMax === null || l.edge > edgeLagMax)) edgeLagMax = l.edge;
  }
  const to = { wall: Date.now(), ct: video.currentTime };
  const atEnd = lag();
  const latency = atEnd ? atEnd.playhead : null;
  // The ladder: lowest -> highest -> lowest, ABR off.
  const switches = [];
  if (doSwitch) {
    player.configure({ abr: { enabled: false } });
    const heights = [...new Set(player.getVariantTracks().map((t) => t.height).filter((h) => h))].sort((x, y) => x - y);
    for (const h of [heights[0], heights[heights.length - 1], heights[0]]) {
      const track = player.getVariantTracks().find((t) => t.height === h);
      const s0 = { wall: Date.now(), ct: video.currentTime };
      player.selectVariantTrack(track, /* clearBuffer= */ true);
      let done = false;
      while (Date.now() - s0.wall < switchTimeout) {
        await new Promise((r) => setTimeout(r, 200));
        const active = player.getVariantTracks().find((t) => t.active);
        if (active && active.height === h && video.videoHeight === h && video.currentTime > s0.ct + 1) {
          done = true;
          break;
        }
      }
      switches.push({ height: h, done, videoHeight: video.videoHeight, secs: (Date.now() - s0.wall) / 1000 });
      if (!done) break;
    }
  }
  return {
    played: to.ct > from.ct,
    heights: [...new Set(player.getVariantTracks().map((t) => t.height))],
    switches,
    switched: !doSwitch || (switches.length === 3 && switches.every((x) => x.done)),
    edgeLagMax,
    edgeLags,
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
}, { url, license, token, watch, startTimeout: START_TIMEOUT_MS, doSwitch, switchTimeout: SWITCH_TIMEOUT_MS });
console.log(JSON.stringify({ url, ...result, logs: logs.slice(-15) }));
await browser.close();
process.exit(result.played && result.switched ? 0 : 1);
