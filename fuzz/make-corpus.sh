#!/bin/sh
# Makes the committed seed corpora of the fuzz targets, corpus/<target>/:
# - bmff_parse, mp4_tracks: tiny ffmpeg files (two frames, progressive and
#   fragmented, H.264/H.265/AAC) with mdat payloads cut to 64 bytes, plus
#   truncated copies; mp4_tracks also gets cenc and cbcs fragmented files
#   from Shaka Packager (tenc + senc), when it is installed;
# - ingest: the same tiny progressive files whole (ingest needs the samples);
# - live_ingest: tiny CMAF streams as ffmpeg pushes them (empty_moov,
#   a moof per track or one for both), whole;
# - flv_ingest: a tiny FLV as ffmpeg pushes it over RTMP (H.264 with
#   B-frames and 2-frame GOPs, AAC), whole;
# - origin_request, token_verify, clearkey_request, model_import: requests,
#   tokens and API bodies (the model examples are taken from the model's
#   own unit tests, so they follow the code);
# - cpix_parse: the DASH-IF CPIX test vectors (tests/cpix/test-vectors) and the
#   signxml-signed documents (tests/cpix/signed: Exclusive C14N, ECDSA).
# The fuzzer's own finds go elsewhere (scripts/fuzz-smoke.sh uses
# target/corpus/<target>): seeds stay small and reviewable.
#   ./make-corpus.sh && RUSTC_BOOTSTRAP=1 cargo fuzz run mp4_tracks target/corpus/mp4_tracks corpus/mp4_tracks
set -eu
cd "$(dirname "$0")"
ROOT=$(cd .. && pwd)
SHAKA=${CASTGUARD_SHAKA:-$ROOT/node_modules/shaka-packager/bin/packager-linux-x64}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in bmff_parse mp4_tracks ingest live_ingest flv_ingest origin_request token_verify clearkey_request model_import cpix_parse; do
  rm -rf "corpus/$t"
  mkdir -p "corpus/$t"
done

src="-f lavfi -i testsrc2=size=64x36:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 0.08"
ffmpeg -v error -y $src -c:v libx264 -bf 2 -c:a aac -movflags +faststart "$tmp/h264.mp4"
ffmpeg -v error -y $src -c:v libx265 -x265-params log-level=error -tag:v hvc1 -c:a aac "$tmp/h265.mp4"
ffmpeg -v error -y $src -c:v libx264 -c:a aac -movflags frag_keyframe+empty_moov+default_base_moof "$tmp/frag.mp4"
cp "$tmp/h264.mp4" "$tmp/h265.mp4" corpus/ingest/
cp "$ROOT"/tests/cpix/test-vectors/*.xml "$ROOT"/tests/cpix/signed/*.xml corpus/cpix_parse/
ffmpeg -v error -y -f lavfi -i testsrc2=size=64x36:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 0.2 \
  -c:v libx264 -g 2 -c:a aac -f mp4 -movflags empty_moov+separate_moof+default_base_moof+cmaf corpus/live_ingest/cmaf
cp "$tmp/frag.mp4" corpus/live_ingest/frag
ffmpeg -v error -y -f lavfi -i testsrc2=size=64x36:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 0.2 \
  -c:v libx264 -g 2 -bf 2 -c:a aac -f flv corpus/flv_ingest/push.flv
if [ -x "$SHAKA" ]; then
  for scheme in cenc cbcs; do
    "$SHAKA" --quiet "in=$tmp/h264.mp4,stream=video,output=$tmp/enc-$scheme.mp4" \
      --enable_raw_key_encryption --protection_scheme "$scheme" --clear_lead 0 \
      --keys label=:key_id=11111111111111111111111111111111:key=22222222222222222222222222222222 \
      --protection_systems CommonSystem,Widevine,PlayReady >/dev/null
  done
fi
for f in "$tmp"/*.mp4; do
  name=$(basename "$f" .mp4)
  case $name in enc-*) outs=corpus/mp4_tracks ;; *) outs="corpus/bmff_parse corpus/mp4_tracks" ;; esac
  for out in $outs; do
  # Drop mdat payload bytes beyond 64: the fuzzer should spend its time on boxes.
  python3 - "$f" "$out/$name" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
out, off = bytearray(), 0
while off + 8 <= len(data):
    size, kind = struct.unpack('>I4s', data[off:off + 8])
    if size < 8:
        break
    box = data[off:off + size]
    if kind == b'mdat':
        box = struct.pack('>I4s', 72, b'mdat') + box[8:72]
    out += box
    off += size
open(sys.argv[2], 'wb').write(out)
# Truncated copies: half, and cut inside the first moov/moof.
open(sys.argv[2] + '.half', 'wb').write(out[:len(out) // 2])
open(sys.argv[2] + '.cut', 'wb').write(out[:min(len(out), 700)])
PY
  done
done

python3 - "$ROOT" <<'PY'
import base64, hashlib, hmac, json, os, re, struct, sys
root = sys.argv[1]

def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    open(os.path.join('corpus', target, name), 'wb').write(data)

# origin_request: 8-byte resource length, then "locator/variant/path\nrange".
for i, (path, rng) in enumerate([
        ('manifest.mpd', ''), ('master.m3u8', 'bytes=0-99'), ('video_1/init.mp4', 'bytes=-500'),
        ('audio_2/playlist.m3u8', 'bytes=10-'), ('video_1/17.m4s', 'bytes=0-1,5-6'),
        ('video_1/../index.json', 'bytes=99999999999999999999-'), ('video_10/4294967295.m4s', 'bytes= 5 - 9 ')]):
    loc = '11111111-2222-4333-8444-555555555555' if i % 3 else '1111111122224333844455555555555g'
    var = ['clear', 'cenc', 'cbcs', 'aes128', 'CENC'][i % 5]
    put('origin_request', f'req{i}', struct.pack('>Q', 1000 + i * 7919) + f'{loc}/{var}/{path}\n{rng}'.encode())

# token_verify: mode byte, then a token (0 JWT, 1 SWT) or what is signed (2 payload, 3 SWT pairs).
KEY = b'fuzz-hs256-key-0123456789abcdef!'
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
claims = {'iss': 'https://sts.example', 'aud': 'urn:castguard', 'exp': 1700003600, 'nbf': 1699999000,
          'groups': ['EntitledUsers', 'Other'],
          'urn:microsoft:azure:mediaservices:contentkeyidentifier': '11111111-1111-1111-1111-111111111111'}
def jwt(header, payload, key=KEY):
    si = b64(json.dumps(header).encode()) + '.' + b64(json.dumps(payload).encode())
    return si + '.' + b64(hmac.new(key, si.encode(), hashlib.sha256).digest())
put('token_verify', 'jwt-ok', b'\0' + jwt({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'}, claims).encode())
put('token_verify', 'jwt-expired', b'\0' + jwt({'alg': 'HS256'}, dict(claims, exp=1600000000)).encode())
put('token_verify', 'jwt-wrong-key', b'\0' + jwt({'alg': 'HS384'}, claims, b'other').encode())
put('token_verify', 'jwt-none', b'\0' + (b64(b'{"alg":"none"}') + '.' + b64(json.dumps(claims).encode()) + '.').encode())
swt_pairs = [('Issuer', 'https://sts.example'), ('Audience', 'urn:castguard'), ('ExpiresOn', '1700003600'),
             ('groups', 'EntitledUsers'), ('groups', 'b c')]
from urllib.parse import urlencode, quote
body = urlencode(swt_pairs)
sig = base64.b64encode(hmac.new(KEY, body.encode(), hashlib.sha256).digest()).decode()
put('token_verify', 'swt-ok', b'\1' + f'{body}&HMACSHA256={quote(sig, safe="")}'.encode())
put('token_verify', 'payload', b'\2' + json.dumps(claims).encode())
put('token_verify', 'payload-maxuses', b'\2' + json.dumps(dict(claims, **{'urn:microsoft:azure:mediaservices:maxuses': 3})).encode())
put('token_verify', 'swt-pairs', b'\3' + '\0'.join(x for p in swt_pairs for x in p).encode())

# clearkey_request: EME Clear Key license requests.
kid = b64(bytes(range(16)))
for i, body in enumerate([
        {'kids': [kid], 'type': 'temporary'}, {'kids': [kid, b64(b'\xff' * 16) + '==']},
        {'kids': [kid], 'type': 'persistent-license'}, {'kids': []}, {'kids': ['AAEC'], 'type': 7}]):
    put('clearkey_request', f'req{i}', json.dumps(body))

# model_import: entity byte (0 policy, 1 streaming policy, 2 locator, 3 key), then the body.
def const(path, name):
    src = open(os.path.join(root, path)).read()
    m = re.search(r'const ' + name + r': &str = r(#+)"(.*?)"\1;', src, re.S)
    return m.group(2)
model = 'crates/keys/src/model/'
put('model_import', 'policy-multi', b'\0' + const(model + 'content_key_policy.rs', 'MULTI').encode())
put('model_import', 'policy-playready', b'\0' + const(model + 'content_key_policy.rs', 'PLAYREADY').encode())
put('model_import', 'streaming-secure', b'\1' + const(model + 'streaming_policy.rs', 'SECURE').encode())
put('model_import', 'locator', b'\2' + const(model + 'streaming_locator.rs', 'LOCATOR').encode())
put('model_import', 'key', b'\3' + json.dumps({'keyId': '10000000-1000-1000-1000-100000000000', 'type': 'CommonEncryption',
    'label': 'cencDefaultKey', 'policyName': 'p', 'value': base64.b64encode(bytes(16)).decode()}).encode())
put('model_import', 'key-generated', b'\3' + b'{"type":"EnvelopeEncryption","name":"fuzz-entity_1.0"}')
PY
du -sh corpus; for d in corpus/*/; do echo "$d $(ls "$d" | wc -l) files $(du -sb "$d" | cut -f1) bytes"; done
