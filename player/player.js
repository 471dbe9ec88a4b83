// castguard test player.
//
// Why this page exists: it is the quickest proof that the whole chain works
// in a real browser — origin (manifests and segments encrypted on request),
// key delivery (token check, then a W3C Clear Key license, EME
// https://www.w3.org/TR/encrypted-media/#clear-key, or a raw HLS AES-128 key,
// RFC 8216 §4.3.2.4) and the token service. It is plain JS on shaka-player
// (vendored, see scripts/vendor-player.sh) with no build step.
//
// What it does:
// - lists the demo streams from GET /player/api/demo;
// - takes a token, or asks POST /player/api/demo-token for one for a demo
//   user (only when the server runs the demo);
// - configures every license server the server announces (Clear Key always;
//   Widevine, PlayReady and FairPlay proxies when configured) and lets shaka
//   pick the first one this browser's EME has;
// - adds `Authorization: Bearer <token>` to LICENSE and KEY requests only
//   (shaka's registerRequestFilter), never to manifests or segments;
// - turns a refused license or key (shaka errors 6007 / 1001, the 401 JSON
//   body `{"error":{"code":...}}`) into a message a person can act on.
//
// The ids and `#status[data-state]` (idle | loading | playing | refused |
// error) are what the browser test reads.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const tokenBox = $('token');
  const params = new URLSearchParams(location.search);

  /** Texts for key delivery's refusal codes (keys::token::Reason). */
  const REASONS = {
    token_missing: 'No token was sent, and this stream needs one. Get a token above, or paste one.',
    token_malformed: 'The token is not a well-formed JWT/SWT.',
    signature_invalid: 'The token\'s signature does not verify with the issuer\'s keys.',
    token_expired: 'The token has expired. Get a fresh one.',
    token_not_yet_valid: 'The token is not valid yet (nbf in the future, or the clocks differ).',
    issuer_mismatch: 'The token comes from an issuer this content does not trust.',
    audience_mismatch: 'The token is meant for another audience.',
    claim_missing: 'The token is valid, but this user is not entitled: a claim the content key policy requires (for the demo: groups contains EntitledUsers) is missing.',
    key_not_granted: 'The token does not grant this content key.',
    replay_exceeded: 'The token has been used as many times as it allows.',
  };

  const KEY_SYSTEM_NAMES = {
    'org.w3.clearkey': 'Clear Key',
    'com.widevine.alpha': 'Widevine',
    'com.microsoft.playready': 'PlayReady',
    'com.apple.fps': 'FairPlay',
  };

  let demo = null;
  let player = null;
  let current = null;

  function setStatus(state, title, detail) {
    const box = $('status');
    box.dataset.state = state;
    $('status-title').textContent = title;
    $('status-detail').textContent = detail || '';
  }

  function token() {
    return tokenBox.value.trim();
  }

  function absolute(url) {
    return new URL(url, location.href).href;
  }

  async function fetchJson(url, init) {
    const res = await fetch(url, init);
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      body = null;
    }
    if (!res.ok) {
      const msg = body && body.error && (body.error.message || body.error.code);
      throw new Error(msg ? `${msg} (HTTP ${res.status})` : `HTTP ${res.status}`);
    }
    return body;
  }

  // ---- errors ---------------------------------------------------------------

  /** The BAD_HTTP_STATUS error inside a shaka error, if any. */
  function httpError(err) {
    const Code = shaka.util.Error.Code;
    if (!err) return null;
    if (err.code === Code.BAD_HTTP_STATUS) return err;
    if (err.code === Code.LICENSE_REQUEST_FAILED && err.data && err.data[0]) return httpError(err.data[0]);
    return null;
  }

  function reasonCode(text) {
    if (typeof text !== 'string') return null;
    try {
      const body = JSON.parse(text);
      return body && body.error && typeof body.error.code === 'string' ? body.error.code : null;
    } catch (_) {
      return null;
    }
  }

  /** Maps a shaka error to {state, title, detail}. */
  function describe(err) {
    const Code = shaka.util.Error.Code;
    const RequestType = shaka.net.NetworkingEngine.RequestType;
    const http = httpError(err);
    if (http) {
      const [uri, status, text, , type] = http.data;
      const what = type === RequestType.LICENSE ? 'License' : type === RequestType.KEY ? 'Key' : null;
      if (what && (status === 401 || status === 403)) {
        const code = reasonCode(text);
        const why = (code && REASONS[code]) || `The server gave no reason code (HTTP ${status}).`;
        return {
          state: 'refused',
          title: `${what} refused (${code || 'HTTP ' + status})`,
          detail: `${why} [shaka ${err.code}${err.code !== http.code ? '/' + http.code : ''}, HTTP ${status}]`,
        };
      }
      return {
        state: 'error',
        title: `${what || 'Request'} failed: HTTP ${status}`,
        detail: `${uri} [shaka ${err.code}]`,
      };
    }
    switch (err && err.code) {
      case Code.NO_LICENSE_SERVER_GIVEN:
        return { state: 'error', title: 'No license server for this key system', detail: `${err.data[0]} is signalled by the stream but the server announced no license URL for it [shaka 6012].` };
      case Code.REQUESTED_KEY_SYSTEM_CONFIG_UNAVAILABLE:
        return { state: 'error', title: 'This browser has none of the stream\'s key systems', detail: 'EME offered no CDM for Clear Key, Widevine, PlayReady or FairPlay [shaka 6001]. Is the page served over https or from localhost?' };
      case Code.VIDEO_ERROR:
        return { state: 'error', title: 'The browser could not decode the stream', detail: `Often a wrong content key [shaka 3016: ${(err.data && err.data[2]) || ''}]` };
      default:
        return { state: 'error', title: `Playback error ${err && err.code}`, detail: err && err.message ? err.message : String(err) };
    }
  }

  function onError(err) {
    // shaka reports a refused license both as a rejected load() and as an
    // 'error' event: show the first, keep a refusal over later noise.
    if ($('status').dataset.state === 'refused') return;
    const d = describe(err);
    setStatus(d.state, d.title, d.detail);
    console.warn('castguard player:', err);
  }

  // ---- player ---------------------------------------------------------------

  function drmConfig() {
    const servers = {};
    const advanced = {};
    const announced = (demo && demo.licenseServers) || {};
    for (const [ks, url] of Object.entries(announced)) {
      if (url) servers[ks] = absolute(url);
    }
    if (demo && demo.fairplayCertificate) {
      advanced['com.apple.fps'] = { serverCertificateUri: absolute(demo.fairplayCertificate) };
    }
    return { servers, advanced };
  }

  async function ensurePlayer() {
    if (player) return player;
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) {
      throw new Error('shaka-player does not support this browser (no MSE?)');
    }
    player = new shaka.Player();
    await player.attach(video);
    player.addEventListener('error', (e) => onError(e.detail));
    // A ladder: show the rendition playing and offer each one by hand.
    player.addEventListener('trackschanged', renderQualities);
    player.addEventListener('trackschanged', renderSubtitles);
    player.addEventListener('textchanged', showCue);
    player.addEventListener('variantchanged', showRendition);
    player.addEventListener('adaptation', showRendition);
    player.getNetworkingEngine().registerRequestFilter((type, request) => {
      const RequestType = shaka.net.NetworkingEngine.RequestType;
      if (type !== RequestType.LICENSE && type !== RequestType.KEY) return;
      const t = token();
      if (t) request.headers['Authorization'] = 'Bearer ' + t;
    });
    return player;
  }

  async function play(manifest, label) {
    current = { manifest, label };
    $('now-playing').textContent = label || manifest;
    $('key-system').textContent = '—';
    setStatus('loading', 'Loading…', manifest);
    try {
      const p = await ensurePlayer();
      await p.unload();
      p.configure({ drm: drmConfig(), abr: { enabled: true } });
      await p.load(absolute(manifest));
      const ks = p.keySystem && p.keySystem();
      $('key-system').textContent = ks ? `${KEY_SYSTEM_NAMES[ks] || ks} (${ks})` : 'none (clear or HLS AES-128)';
      await video.play().catch(() => {});
      if ($('status').dataset.state === 'loading') {
        setStatus('loading', 'Waiting for the first frames…', 'Manifest loaded; waiting for keys and media.');
      }
    } catch (err) {
      if (err && err.code === shaka.util.Error.Code.LOAD_INTERRUPTED) return;
      onError(err);
    }
  }

  // ---- renditions (ABR ladder) --------------------------------------------

  function renderQualities() {
    const select = $('quality');
    const tracks = player.getVariantTracks()
      .filter((t) => t.height)
      .sort((a, b) => a.height - b.height || a.bandwidth - b.bandwidth);
    const seen = new Set();
    select.replaceChildren(new Option('auto (ABR)', 'auto'));
    for (const t of tracks) {
      if (seen.has(t.height)) continue;
      seen.add(t.height);
      select.append(new Option(`${t.width}x${t.height} (${Math.round(t.bandwidth / 1000)} kbit/s)`, String(t.height)));
    }
    select.disabled = seen.size < 2;
    select.value = player.getConfiguration().abr.enabled ? 'auto' : select.value;
    showRendition();
  }

  function showRendition() {
    const t = player && player.getVariantTracks().find((v) => v.active);
    $('rendition').textContent = t && t.height
      ? `${t.width}x${t.height}, ${Math.round(t.bandwidth / 1000)} kbit/s`
      : '—';
  }

  // ---- subtitles --------------------------------------------------------------

  // One entry per language and role (the sidecar Representation of a DASH
  // text set is the same subtitles: the segmented one is listed).
  function textTracks() {
    const seen = new Set();
    return player.getTextTracks().filter((t) => {
      const key = textKey(t);
      if (seen.has(key) || t.mimeType === 'text/vtt' && player.getTextTracks().some((o) => o !== t && o.language === t.language && o.mimeType !== 'text/vtt')) return false;
      seen.add(key);
      return true;
    });
  }

  const languageNames = (() => {
    try {
      return new Intl.DisplayNames(['en'], { type: 'language' });
    } catch (_) {
      return null;
    }
  })();

  function renderSubtitles() {
    const select = $('subtitles');
    const tracks = textTracks();
    select.replaceChildren(new Option('off', 'off'));
    for (const t of tracks) {
      const role = (t.roles || []).filter((r) => r !== 'subtitle' && r !== 'forced-subtitle').join(', ');
      let name = t.label || t.language;
      try {
        name = t.label || (languageNames && languageNames.of(t.language)) || t.language;
      } catch (_) { /* not a language tag */ }
      const label = `${name}${t.forced ? ' (forced)' : role ? ` (${role})` : ''}`;
      select.append(new Option(label, String(t.id)));
    }
    select.disabled = tracks.length === 0;
    // The viewer's choice survives track list changes (an ABR switch, a
    // new period): the same language and role is selected again.
    const again = chosenText && tracks.find((t) => textKey(t) === chosenText);
    if (again && !again.active) player.selectTextTrack(again);
    select.value = again ? String(again.id) : 'off';
    showCue();
  }

  let chosenText = null;
  const textKey = (t) => `${t.language}|${(t.roles || []).join(',')}|${t.forced}`;

  $('subtitles').addEventListener('change', () => {
    if (!player) return;
    const want = $('subtitles').value;
    const t = player.getTextTracks().find((x) => String(x.id) === want);
    chosenText = t ? textKey(t) : null;
    player.selectTextTrack(t || null);
    showCue();
  });

  // Cues change as text segments arrive and the playhead moves, paused
  // or not: every text track of the video reports it.
  video.textTracks.addEventListener('addtrack', (e) => {
    e.track.addEventListener('cuechange', showCue);
  });
  video.textTracks.addEventListener('change', showCue);

  // The cue on screen now, as text (also drawn on the video by shaka).
  function showCue() {
    // A cue split at a segment boundary is two cues of the same text,
    // both active at the boundary itself: shown once.
    const cues = [...new Set(Array.from(video.textTracks)
      .filter((t) => t.mode === 'showing')
      .flatMap((t) => Array.from(t.activeCues || []).map((c) => c.text)))];
    $('cue').textContent = cues.length ? cues.join(' / ') : '—';
  }

  $('quality').addEventListener('change', () => {
    if (!player) return;
    const want = $('quality').value;
    if (want === 'auto') {
      player.configure({ abr: { enabled: true } });
    } else {
      player.configure({ abr: { enabled: false } });
      const t = player.getVariantTracks().find((v) => String(v.height) === want);
      if (t) player.selectVariantTrack(t, /* clearBuffer */ true);
    }
    showRendition();
  });

  video.addEventListener('timeupdate', () => {
    // A live stream: how far the frame on screen is behind the encoder's
    // wall clock (DASH availabilityStartTime / HLS PROGRAM-DATE-TIME).
    const at = player && player.isLive() && player.getPlayheadTimeAsDate();
    $('position').textContent = at
      ? `LIVE, ${video.currentTime.toFixed(1)} s, ${((Date.now() - at.getTime()) / 1000).toFixed(1)} s behind the encoder`
      : `${video.currentTime.toFixed(1)} s`;
    showCue();
    if (video.currentTime > 0 && $('status').dataset.state !== 'playing' && $('status').dataset.state !== 'refused') {
      setStatus('playing', 'Playing', current ? current.label || current.manifest : '');
    }
  });

  // ---- demo API --------------------------------------------------------------

  async function getDemoToken(user) {
    $('token-info').textContent = `asking the token service for "${user}"…`;
    const body = await fetchJson('/player/api/demo-token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user }),
    });
    tokenBox.value = body.token;
    const exp = body.expiresAt ? ` expires ${body.expiresAt}` : '';
    $('token-info').textContent = `token for demo user "${user}"${exp}${body.description ? ' — ' + body.description : ''}`;
    return body.token;
  }

  function renderLocators() {
    const list = $('locators');
    list.textContent = '';
    const locators = (demo && demo.locators) || [];
    if (!locators.length) {
      const li = document.createElement('li');
      li.className = 'hint';
      li.textContent = 'No demo streams on this server (start it with the demo, or use a manifest URL).';
      list.appendChild(li);
      return;
    }
    for (const loc of locators) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.stream = loc.name;
      b.textContent = loc.title || loc.name;
      b.addEventListener('click', () => play(loc.manifest, loc.title || loc.name));
      const small = document.createElement('small');
      small.textContent = `${loc.format.toUpperCase()} · ${loc.protection}`;
      li.append(b, small);
      list.appendChild(li);
    }
  }

  async function renderDrm() {
    const tbody = $('drm').querySelector('tbody');
    tbody.textContent = '';
    const announced = (demo && demo.licenseServers) || {};
    for (const ks of Object.keys(KEY_SYSTEM_NAMES)) {
      const tr = document.createElement('tr');
      const name = document.createElement('td');
      name.textContent = KEY_SYSTEM_NAMES[ks];
      const here = document.createElement('td');
      here.textContent = '…';
      const url = document.createElement('td');
      url.textContent = announced[ks] ? absolute(announced[ks]) : 'not configured';
      tr.append(name, here, url);
      tbody.appendChild(tr);
      probe(ks).then((ok) => {
        here.textContent = ok ? 'available' : 'not available';
        here.className = ok ? 'yes' : 'no';
      });
    }
  }

  async function probe(ks) {
    if (!navigator.requestMediaKeySystemAccess) return false;
    try {
      await navigator.requestMediaKeySystemAccess(ks, [{
        initDataTypes: ['cenc', 'keyids', 'sinf', 'skd'],
        videoCapabilities: [{ contentType: 'video/mp4; codecs="avc1.64001e"' }],
      }]);
      return true;
    } catch (_) {
      return false;
    }
  }

  async function init() {
    try {
      demo = await fetchJson('/player/api/demo');
    } catch (err) {
      demo = { locators: [], licenseServers: {}, demo: false };
      setStatus('error', 'Could not load the stream list', String(err.message || err));
    }
    renderLocators();
    renderDrm();
    const demoOn = !!(demo && demo.demo);
    for (const b of $('demo-users').querySelectorAll('button[data-user]')) {
      b.disabled = !demoOn;
      b.addEventListener('click', () => getDemoToken(b.dataset.user).catch((err) => {
        $('token-info').textContent = `no demo token: ${err.message || err}`;
      }));
    }
    if (!demoOn) $('token-info').textContent = 'Demo tokens are off on this server: paste a token from your own issuer or POST /sts/token.';
    $('token-clear').addEventListener('click', () => {
      tokenBox.value = '';
      $('token-info').textContent = 'no token: license and key requests go without Authorization';
    });
    $('custom').addEventListener('submit', (e) => {
      e.preventDefault();
      const url = $('manifest-url').value.trim();
      if (url) play(url, url);
    });

    // Deep links: /player?stream=<name>&user=<demo user> (or &token=<jwt>).
    if (params.get('token')) tokenBox.value = params.get('token');
    const stream = params.get('stream');
    if (stream) {
      const loc = (demo.locators || []).find((l) => l.name === stream);
      if (!loc) {
        setStatus('error', 'Unknown stream', stream);
        return;
      }
      const user = params.get('user');
      if (user) {
        try {
          await getDemoToken(user);
        } catch (err) {
          setStatus('error', 'No demo token', String(err.message || err));
          return;
        }
      }
      play(loc.manifest, loc.title || loc.name);
    }
  }

  window.castguardPlayer = { play, describe, state: () => $('status').dataset.state };
  init();
})();
