#!/usr/bin/env bash
# Makes the synthetic media fixtures the tests use (license-free ffmpeg lavfi
# sources; see scripts/README.md for what each file exercises).
#
#   scripts/make-fixtures.sh [OUTDIR]      (default: target/fixtures)
#
# Idempotent: a file that already exists is kept. Each file is written to a
# temporary name first and renamed, so an interrupted run leaves no half file.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/target/fixtures}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
DUR=10
VIDEO_SRC=(-f lavfi -i "testsrc2=size=640x360:rate=25")
X264=(-c:v libx264 -preset veryfast -crf 30 -pix_fmt yuv420p -g 50 -keyint_min 50 -sc_threshold 0)
AAC=(-c:a aac -b:a 96k)

make() {
    # make NAME ARGS... : runs ffmpeg ARGS... TMP unless OUT/NAME exists
    # (an MP4, or QuickTime for NAME.mov).
    local name="$1"; shift
    local dst="$OUT/$name"
    if [ -s "$dst" ]; then
        return 0
    fi
    local tmp="$OUT/.tmp.$$.$name"
    local format=mp4
    case "$name" in *.mov) format=mov ;; esac
    "${FF[@]}" "$@" -f "$format" "$tmp"
    mv -f "$tmp" "$dst"
    printf '[make-fixtures] %s\n' "$dst" >&2
}

# H.264 with B-frames (ctts, composition offsets) + AAC 48 kHz stereo.
make h264_aac_bframes.mp4 \
    "${VIDEO_SRC[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$DUR" \
    -map 0:v -map 1:a "${X264[@]}" -bf 2 "${AAC[@]}" -ac 2 -movflags +faststart &

# H.264 without B-frames (no ctts) + AAC.
make h264_aac_nob.mp4 \
    "${VIDEO_SRC[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$DUR" \
    -map 0:v -map 1:a "${X264[@]}" -bf 0 "${AAC[@]}" -ac 2 -movflags +faststart &
wait

# H.264 + two audio tracks: 440 Hz 48 kHz stereo (eng), 660 Hz 44.1 kHz mono (fra).
make h264_2audio.mp4 \
    "${VIDEO_SRC[@]}" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -f lavfi -i "sine=frequency=660:sample_rate=44100" -t "$DUR" \
    -map 0:v -map 1:a -map 2:a "${X264[@]}" -bf 2 \
    -c:a aac -b:a 96k -ac:a:0 2 -ac:a:1 1 -ar:a:0 48000 -ar:a:1 44100 \
    -metadata:s:a:0 language=eng -metadata:s:a:1 language=fra -movflags +faststart &

# H.265 (hvc1 sample entry: parameter sets in hvcC only) + AAC.
make h265_aac.mp4 \
    "${VIDEO_SRC[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$DUR" \
    -map 0:v -map 1:a -c:v libx265 -preset ultrafast -crf 32 -pix_fmt yuv420p -tag:v hvc1 \
    -x265-params "log-level=error:keyint=50:min-keyint=50:scenecut=0:bframes=2" \
    "${AAC[@]}" -ac 2 -movflags +faststart &
wait

# Odd GOP (37 frames, so keyframes never land on a 4 s boundary) with an edit
# list: the video starts 0.5 s into the file's timeline (-itsoffset with
# -copyts), which the mp4 muxer writes as an elst with an empty edit
# (media_time -1) followed by the B-frame shift edit.
make odd_gop.mp4 \
    -itsoffset 0.5 "${VIDEO_SRC[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$DUR" \
    -map 0:v -map 1:a -c:v libx264 -preset veryfast -crf 30 -pix_fmt yuv420p -g 37 -keyint_min 37 -sc_threshold 0 -bf 2 \
    "${AAC[@]}" -ac 2 -copyts -movflags +faststart

# Ladder: renditions of one title in separate files (`castguard package A B C`).
# Video-only H.264 at three sizes with one fixed GOP (2 s: -g 50 at 25 fps, no
# scene cuts) so their key frames line up, clearly different bitrates; two
# audio-only files (eng 440 Hz, fra 660 Hz). Bad cases: a 360p rendition with
# a 37-frame GOP (key frames misaligned with the others) and a 6 s one.
LADDER_X264=(-c:v libx264 -preset veryfast -pix_fmt yuv420p -bf 2 -sc_threshold 0)
ladder_video() {
    # ladder_video NAME SIZE BITRATE GOP SECONDS
    make "$1" -f lavfi -i "testsrc2=size=$2:rate=25" -t "$5" -map 0:v \
        "${LADDER_X264[@]}" -b:v "$3" -maxrate "$3" -bufsize "$3" -g "$4" -keyint_min "$4" \
        -movflags +faststart
}
ladder_video ladder_234.mp4 416x234 150k 50 "$DUR" &
ladder_video ladder_360.mp4 640x360 400k 50 "$DUR" &
wait
ladder_video ladder_720.mp4 1280x720 1000k 50 "$DUR" &
ladder_video ladder_misaligned_360.mp4 640x360 400k 37 "$DUR" &
wait
ladder_video ladder_short_360.mp4 640x360 400k 50 6 &
make ladder_audio_en.mp4 \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$DUR" \
    -map 0:a "${AAC[@]}" -ac 2 -metadata:s:a:0 language=eng -movflags +faststart &
make ladder_audio_fr.mp4 \
    -f lavfi -i "sine=frequency=660:sample_rate=48000" -t "$DUR" \
    -map 0:a "${AAC[@]}" -ac 2 -metadata:s:a:0 language=fra -movflags +faststart &
wait

# Video whose manifests must describe it truthfully (docs/manifests.md):
# - variable frame rate: 25 fps for 5 s, then every other frame dropped
#   (12.5 fps) with the timestamps kept (-fps_mode vfr): stts of 125 x 512
#   and 62 x 1024 ticks in 1/12800; ffprobe's avg_frame_rate 4675/249, its
#   r_frame_rate 25/1. No B-frames, so the sample durations are the frames'.
make vfr_h264.mp4 \
    "${VIDEO_SRC[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$DUR" \
    -filter_complex "[0:v]select='lt(t,5)+not(mod(n,2))'[v]" -map "[v]" -map 1:a -fps_mode vfr \
    "${X264[@]}" -bf 0 "${AAC[@]}" -ac 2 -movflags +faststart &
# - interlaced: 720x576 25i, x264 field coding (MBAFF) top field first:
#   SPS frame_mbs_only_flag 0, ffprobe field_order tt.
make interlaced_h264.mp4 \
    -f lavfi -i "testsrc2=size=720x576:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$DUR" \
    -map 0:v -map 1:a "${X264[@]}" -bf 2 -flags +ildct+ilme -top 1 "${AAC[@]}" -ac 2 -movflags +faststart &
# - two pictures in one file (two camera angles): testsrc2 and mandelbrot,
#   same GOP so their key frames line up, + audio. ffmpeg writes tkhd
#   alternate_group 0 on both video tracks (1 on audio): not alternatives
#   of each other, so two pictures, not a ladder.
make two_pictures.mp4 \
    "${VIDEO_SRC[@]}" -f lavfi -i "mandelbrot=size=640x360:rate=25" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$DUR" \
    -map 0:v -map 1:v -map 2:a "${X264[@]}" -bf 2 "${AAC[@]}" -ac 2 -movflags +faststart &
wait

# Fragmented input: the samples of h264_aac_bframes.mp4 as three muxers
# fragment them (ISO/IEC 14496-12 §8.8), for Movie::open's moof/traf/trun
# reading; crates/media/tests/fragmented_input.rs compares them sample by
# sample with that progressive source.
FRAG_SRC="$OUT/h264_aac_bframes.mp4"

# ffmpeg fMP4: empty moov + mvex/trex, a moof per video GOP with one traf per
# track, default-base-is-moof, tfhd defaults, no edit list.
make frag_h264_aac.mp4 -i "$FRAG_SRC" -map 0 -c copy \
    -movflags frag_keyframe+empty_moov+default_base_moof

# ffmpeg DASH on-demand (-single_file 1): one file per stream with sidx and
# an edit list: the video stream is dash_single.mp4, the audio
# dash_single_audio.mp4.
if [ ! -s "$OUT/dash_single.mp4" ] || [ ! -s "$OUT/dash_single_audio.mp4" ]; then
    frag_tmp="$(mktemp -d "$OUT/.tmp.dash.XXXXXX")"
    "${FF[@]}" -i "$FRAG_SRC" -map 0 -c copy -f dash -single_file 1 "$frag_tmp/dash.mpd"
    mv -f "$frag_tmp/dash-stream0.mp4" "$OUT/dash_single.mp4"
    mv -f "$frag_tmp/dash-stream1.mp4" "$OUT/dash_single_audio.mp4"
    rm -rf "$frag_tmp"
    printf '[make-fixtures] %s\n' "$OUT/dash_single.mp4" "$OUT/dash_single_audio.mp4" >&2
fi

# Shaka Packager clear output (its own track ids, tfhd sample description
# index, tfdt version 0, sbgp): video as shaka_clear_video.mp4, audio under a
# CMAF name, shaka_clear_audio.cmfa.
SHAKA="${CASTGUARD_SHAKA:-$ROOT/node_modules/shaka-packager/bin/packager-linux-x64}"
if [ ! -s "$OUT/shaka_clear_video.mp4" ] || [ ! -s "$OUT/shaka_clear_audio.cmfa" ]; then
    if [ ! -x "$SHAKA" ]; then
        printf '[make-fixtures] Shaka Packager not found at %s: run scripts/install-test-tools.sh\n' "$SHAKA" >&2
        exit 1
    fi
    frag_tmp="$(mktemp -d "$OUT/.tmp.shaka.XXXXXX")"
    "$SHAKA" --quiet \
        "in=$FRAG_SRC,stream=video,output=$frag_tmp/v.mp4" \
        "in=$FRAG_SRC,stream=audio,output=$frag_tmp/a.cmfa" >/dev/null
    mv -f "$frag_tmp/v.mp4" "$OUT/shaka_clear_video.mp4"
    mv -f "$frag_tmp/a.cmfa" "$OUT/shaka_clear_audio.cmfa"
    rm -rf "$frag_tmp"
    printf '[make-fixtures] %s\n' "$OUT/shaka_clear_video.mp4" "$OUT/shaka_clear_audio.cmfa" >&2
fi

# Real-world masters (issue 13): the audio codecs and containers catalogues
# hold. 5.1 is the sine on every channel (pan), so each channel has sound.
SIX=(-af "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0")
SHORT_VIDEO=(-f lavfi -i "testsrc2=size=320x180:rate=25")
SHORT_X264=(-c:v libx264 -preset veryfast -crf 32 -pix_fmt yuv420p -g 50 -keyint_min 50 -sc_threshold 0 -bf 2)
# AAC stereo + AC-3 5.1, both English: the usual broadcast master.
make master_aac_ac3.mp4 \
    "${SHORT_VIDEO[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 6 \
    -map 0:v -map 1:a -map 1:a "${SHORT_X264[@]}" \
    -c:a:0 aac -b:a:0 96k -ac:a:0 2 -c:a:1 ac3 -b:a:1 384k -filter:a:1 "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0" \
    -metadata:s:a:0 language=eng -metadata:s:a:1 language=eng &
# E-AC-3 5.1 audio only; the moov after the mdat (no faststart), so that
# patch-dec3-joc.py can grow the dec3 box without moving any sample.
make eac3_51.mp4 -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 10 "${SIX[@]}" -c:a eac3 -b:a 256k -metadata:s:a:0 language=eng &
wait
# Opus and FLAC (FLAC in MP4 is still "experimental" to ffmpeg's muxer).
make h264_opus.mp4 \
    "${SHORT_VIDEO[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 6 \
    -map 0:v -map 1:a "${SHORT_X264[@]}" -c:a libopus -b:a 96k -ac 2 &
make h264_flac.mp4 \
    "${SHORT_VIDEO[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 6 \
    -map 0:v -map 1:a "${SHORT_X264[@]}" -c:a flac -ac 2 -strict -2 &
wait
# QuickTime: ffmpeg's mov muxer writes AAC as a version 1 sound description
# with esds inside wave; at 96 kHz (past 16.16) a version 2 one.
make qt_h264_aac.mov \
    "${SHORT_VIDEO[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 6 \
    -map 0:v -map 1:a "${SHORT_X264[@]}" -c:a aac -b:a 96k -ac 2 &
make qt_h264_aac96.mov \
    "${SHORT_VIDEO[@]}" -f lavfi -i "sine=frequency=440:sample_rate=96000" -t 6 \
    -map 0:v -map 1:a "${SHORT_X264[@]}" -c:a aac -b:a 128k -ac 1 &
wait
# E-AC-3 with Joint Object Coding (Dolby Atmos) signalling: ffmpeg cannot
# encode JOC, so the dec3 of eac3_51.mp4 gets the JOC extension
# (complexity index 16) appended.
if [ ! -s "$OUT/eac3_joc.mp4" ]; then
    python3 "$ROOT/scripts/patch-dec3-joc.py" "$OUT/eac3_51.mp4" "$OUT/.tmp.$$.eac3_joc.mp4" 16
    mv -f "$OUT/.tmp.$$.eac3_joc.mp4" "$OUT/eac3_joc.mp4"
    printf '[make-fixtures] %s\n' "$OUT/eac3_joc.mp4" >&2
fi

# Segment starts (issue 13): a 10 s GOP (segments cannot follow a 4 s
# target) with audio running 3 s past the video; open GOPs (x264
# open-gop: every key frame after the first is a non-IDR I-frame with
# leading B-frames), alone and with an IDR forced every 8 s.
make long_gop.mp4 \
    -f lavfi -t 20 -i "testsrc2=size=320x180:rate=25" -f lavfi -t 23 -i "sine=frequency=440:sample_rate=48000" \
    -map 0:v -map 1:a -c:v libx264 -preset veryfast -crf 32 -pix_fmt yuv420p -g 250 -keyint_min 250 -sc_threshold 0 -bf 2 \
    "${AAC[@]}" -ac 2 &
make open_gop.mp4 \
    "${SHORT_VIDEO[@]}" -t 10 -c:v libx264 -preset veryfast -crf 32 -pix_fmt yuv420p -bf 3 \
    -x264-params "keyint=50:min-keyint=50:scenecut=0:b-adapt=0:open-gop=1" &
make open_gop_idr8.mp4 \
    "${SHORT_VIDEO[@]}" -t 16 -c:v libx264 -preset veryfast -crf 32 -pix_fmt yuv420p -bf 3 \
    -x264-params "keyint=50:min-keyint=50:scenecut=0:b-adapt=0:open-gop=1" -force_key_frames "expr:eq(mod(n,200),0)" -forced-idr 1 &
wait

# Subtitles (issue 14): WebVTT sidecars for the 10 s titles, English and
# French, one cue across the 4 s segment boundary, one with settings and an
# identifier; written as text, so they are diffable here.
write_text() {
    # write_text NAME : stdin to OUT/NAME unless it exists.
    local dst="$OUT/$1"
    if [ -s "$dst" ]; then cat >/dev/null; return 0; fi
    cat >"$OUT/.tmp.$$.$1"
    mv -f "$OUT/.tmp.$$.$1" "$dst"
    printf '[make-fixtures] %s\n' "$dst" >&2
}
write_text subs_en.vtt <<'VTT'
WEBVTT - castguard test subtitles (English)

1
00:00:00.500 --> 00:00:02.000
Hello from the first cue

2
00:00:03.000 --> 00:00:05.250 align:start line:0
A cue across the
segment boundary

00:00:06.000 --> 00:00:07.500
<i>Third</i> cue

00:00:08.000 --> 00:00:09.500
Last English cue
VTT
write_text subs_fr.vtt <<'VTT'
WEBVTT

00:00:01.000 --> 00:00:02.500
Bonjour, premier sous-titre

00:00:05.000 --> 00:00:06.500
Deuxième sous-titre

00:00:08.500 --> 00:00:09.750
Dernier sous-titre
VTT

# A TTML / IMSC1 text profile sidecar (German), with frame and tick times.
write_text subs_de.ttml <<'TTML'
<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter"
    xmlns:tts="http://www.w3.org/ns/ttml#styling" ttp:frameRate="25" ttp:tickRate="10000000"
    ttp:profile="http://www.w3.org/ns/ttml/profile/imsc1/text" xml:lang="de">
  <head><styling><style xml:id="s1" tts:color="white"/></styling></head>
  <body>
    <div>
      <p begin="00:00:00.750" end="00:00:02.250" style="s1">Hallo, erster Untertitel</p>
      <p begin="00:00:04:00" end="00:00:05:12">Zweiter<br/>Untertitel</p>
      <p begin="70000000t" end="85000000t">Letzter <span tts:fontStyle="italic">Untertitel</span></p>
    </div>
  </body>
</tt>
TTML

# Text inside MP4: the English subtitles as 3GPP timed text (ffmpeg
# mov_text, `tx3g`, language eng, a title) muxed with h264_aac_bframes.mp4; the
# French ones as WebVTT in fragmented MP4 (`wvtt`), as Shaka Packager
# writes a text track of its own.
make h264_movtext.mp4 -i "$OUT/h264_aac_bframes.mp4" -i "$OUT/subs_en.vtt" \
    -map 0 -map 1 -c copy -c:s mov_text -metadata:s:s:0 language=eng -metadata:s:s:0 "title=English (mov_text)"
if [ ! -s "$OUT/subs_fr_wvtt.mp4" ]; then
    frag_tmp="$(mktemp -d "$OUT/.tmp.wvtt.XXXXXX")"
    "$SHAKA" --quiet "in=$OUT/subs_fr.vtt,stream=text,language=fr,output=$frag_tmp/fr.mp4" >/dev/null
    mv -f "$frag_tmp/fr.mp4" "$OUT/subs_fr_wvtt.mp4"
    rm -rf "$frag_tmp"
    printf '[make-fixtures] %s\n' "$OUT/subs_fr_wvtt.mp4" >&2
fi
# TTML in MP4 (`stpp`: a TTML document per sample, times on the track's
# timeline), as Shaka Packager writes the English WebVTT.
if [ ! -s "$OUT/subs_en_stpp.mp4" ]; then
    frag_tmp="$(mktemp -d "$OUT/.tmp.stpp.XXXXXX")"
    "$SHAKA" --quiet "in=$OUT/subs_en.vtt,stream=text,language=en,output=$frag_tmp/en.mp4,format=ttml+mp4" >/dev/null 2>&1
    mv -f "$frag_tmp/en.mp4" "$OUT/subs_en_stpp.mp4"
    rm -rf "$frag_tmp"
    printf '[make-fixtures] %s\n' "$OUT/subs_en_stpp.mp4" >&2
fi

# CEA-608 closed captions in the video (issue 14): H.264 without B-frames
# (raw H.264 carries no timestamps, so the remux regenerates them at 25 fps),
# an ATSC A/53 GA94 SEI before every picture added by add-cea608.py, the
# caption "CASTGUARD CAPTIONS" (ffmpeg's subcc reads it back).
if [ ! -s "$OUT/h264_cea608.mp4" ]; then
    cc_tmp="$(mktemp -d "$OUT/.tmp.cc.XXXXXX")"
    "${FF[@]}" -f lavfi -i "testsrc2=size=320x180:rate=25" -t 6 -c:v libx264 -preset veryfast -crf 32 -bf 0 \
        -g 50 -keyint_min 50 -sc_threshold 0 -pix_fmt yuv420p -f h264 "$cc_tmp/in.h264"
    python3 "$ROOT/scripts/add-cea608.py" "$cc_tmp/in.h264" "$cc_tmp/cc.h264" "CASTGUARD CAPTIONS"
    "${FF[@]}" -framerate 25 -i "$cc_tmp/cc.h264" -c copy -f mp4 "$cc_tmp/cc.mp4"
    mv -f "$cc_tmp/cc.mp4" "$OUT/h264_cea608.mp4"
    rm -rf "$cc_tmp"
    printf '[make-fixtures] %s\n' "$OUT/h264_cea608.mp4" >&2
fi

# An asset folder as the retired cloud service's encoding jobs wrote it
# (docs/migration.md): the ladder's renditions under the encoder's names
# (NAME_WxH_KBPS.mp4, NAME_AACAudio_KBPS_LANG.mp4), hard links (copies where
# links fail), a WebVTT sidecar, and the SMIL 2.0 server manifest movie.ism
# listing them with the trackIDs the files have (ffmpeg numbers the one track
# of a single-track file 1). No .ismc: that is the Smooth Streaming client
# manifest, which castguard neither serves nor reads.
if [ ! -s "$OUT/ams_folder/movie.ism" ]; then
    ams_tmp="$(mktemp -d "$OUT/.tmp.ams.XXXXXX")"
    for pair in ladder_234.mp4:movie_416x234_300.mp4 ladder_360.mp4:movie_640x360_700.mp4 \
        ladder_720.mp4:movie_1280x720_2000.mp4 ladder_audio_en.mp4:movie_AACAudio_128_eng.mp4 \
        subs_en.vtt:movie_eng.vtt; do
        ln -f "$OUT/${pair%%:*}" "$ams_tmp/${pair#*:}" 2>/dev/null || cp -f "$OUT/${pair%%:*}" "$ams_tmp/${pair#*:}"
    done
    cat > "$ams_tmp/movie.ism" <<'ISM'
<?xml version="1.0" encoding="utf-8"?>
<smil xmlns="http://www.w3.org/2001/SMIL20/Language">
  <head>
    <meta name="formats" content="mp4-v2" />
  </head>
  <body>
    <switch>
      <video src="movie_416x234_300.mp4" systemBitrate="300000">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <video src="movie_640x360_700.mp4" systemBitrate="700000">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <video src="movie_1280x720_2000.mp4" systemBitrate="2000000">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="video" valuetype="data" />
      </video>
      <audio src="movie_AACAudio_128_eng.mp4" systemBitrate="128000" systemLanguage="eng">
        <param name="trackID" value="1" valuetype="data" />
        <param name="trackName" value="aac_eng_2_128" valuetype="data" />
      </audio>
      <textstream src="movie_eng.vtt" systemLanguage="eng">
        <param name="trackName" value="subtitles_eng" valuetype="data" />
      </textstream>
    </switch>
  </body>
</smil>
ISM
    rm -rf "$OUT/ams_folder"
    mv "$ams_tmp" "$OUT/ams_folder"
    printf '[make-fixtures] %s\n' "$OUT/ams_folder" >&2
fi

printf '%s\n' "$OUT"
