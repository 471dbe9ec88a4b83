//! Track classes for keys per track class: AUDIO, SD, HD, UHD1, UHD2.
//!
//! DRM services license higher resolutions under stricter terms (hardware
//! CDM, HDCP), so a title's renditions are encrypted with one key per class
//! and each key is granted by its own policy. The thresholds are those of
//! the SPEKE v2.0 video encryption presets (AWS Elemental MediaPackage and
//! MediaConvert, "SPEKE v2.0 presets",
//! <https://docs.aws.amazon.com/mediapackage/latest/ug/drm-content-speke-v2-presets.html>):
//! SD up to 1024x576, HD up to 1920x1080, UHD1 up to 4096x2160, UHD2 above,
//! expressed as pixel counts the way a DASH-IF CPIX 2.3 usage rule's
//! `VideoFilter@minPixels` / `@maxPixels` does (SPEKE v2 requests for
//! these presets carry `maxPixels="589824"` for SD and `minPixels="589825"`
//! for HD). The names are the CPIX `ContentKeyUsageRule@IntendedTrackType`
//! values those presets use.
//!
//! The pixel count is the coded width times height of the track's sample
//! entry (what the manifests announce). A video whose entry has no size
//! counts as 0 pixels, i.e. SD.

use bmff::SampleEntry;

use crate::movie::TrackKind;

/// Largest pixel count of an SD track: 1024 x 576.
pub const SD_MAX_PIXELS: u64 = 589_824;
/// Largest pixel count of an HD track: 1920 x 1080.
pub const HD_MAX_PIXELS: u64 = 2_073_600;
/// Largest pixel count of a UHD1 track: 4096 x 2160.
pub const UHD1_MAX_PIXELS: u64 = 8_847_360;

/// The key class of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrackClass {
    Audio,
    Sd,
    Hd,
    Uhd1,
    Uhd2,
}

impl TrackClass {
    pub const ALL: [TrackClass; 5] =
        [TrackClass::Audio, TrackClass::Sd, TrackClass::Hd, TrackClass::Uhd1, TrackClass::Uhd2];

    /// The class of a video track of `width` x `height` pixels.
    pub fn video(width: u32, height: u32) -> TrackClass {
        // u32 x u32 always fits in u64: no overflow on any input.
        match u64::from(width) * u64::from(height) {
            p if p <= SD_MAX_PIXELS => TrackClass::Sd,
            p if p <= HD_MAX_PIXELS => TrackClass::Hd,
            p if p <= UHD1_MAX_PIXELS => TrackClass::Uhd1,
            _ => TrackClass::Uhd2,
        }
    }

    /// The class of a track of `kind`; `width` and `height` count for video only.
    pub fn of(kind: TrackKind, width: u32, height: u32) -> TrackClass {
        match kind {
            TrackKind::Audio => TrackClass::Audio,
            TrackKind::Video => TrackClass::video(width, height),
        }
    }

    /// The class of a track from its clear sample entry (a visual entry's
    /// width and height; any other entry of a video track counts as SD).
    pub fn of_entry(kind: TrackKind, entry: &SampleEntry) -> TrackClass {
        match entry {
            SampleEntry::Visual(v) => TrackClass::of(kind, u32::from(v.width), u32::from(v.height)),
            _ => TrackClass::of(kind, 0, 0),
        }
    }

    /// The CPIX `IntendedTrackType` name: `AUDIO`, `SD`, `HD`, `UHD1`, `UHD2`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackClass::Audio => "AUDIO",
            TrackClass::Sd => "SD",
            TrackClass::Hd => "HD",
            TrackClass::Uhd1 => "UHD1",
            TrackClass::Uhd2 => "UHD2",
        }
    }

    /// Parses the name [`TrackClass::as_str`] gives (exactly, case included).
    pub fn parse(s: &str) -> Option<TrackClass> {
        TrackClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for TrackClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladder_sizes_fall_in_their_class() {
        assert_eq!(TrackClass::video(416, 234), TrackClass::Sd);
        assert_eq!(TrackClass::video(640, 360), TrackClass::Sd);
        assert_eq!(TrackClass::video(1024, 576), TrackClass::Sd);
        assert_eq!(TrackClass::video(1280, 720), TrackClass::Hd);
        assert_eq!(TrackClass::video(1920, 1080), TrackClass::Hd);
        assert_eq!(TrackClass::video(2560, 1440), TrackClass::Uhd1);
        assert_eq!(TrackClass::video(3840, 2160), TrackClass::Uhd1);
        assert_eq!(TrackClass::video(4096, 2160), TrackClass::Uhd1);
        assert_eq!(TrackClass::video(7680, 4320), TrackClass::Uhd2);
    }

    #[test]
    fn thresholds_are_inclusive_and_one_more_pixel_moves_up() {
        for (max, class, next) in [
            (SD_MAX_PIXELS, TrackClass::Sd, TrackClass::Hd),
            (HD_MAX_PIXELS, TrackClass::Hd, TrackClass::Uhd1),
            (UHD1_MAX_PIXELS, TrackClass::Uhd1, TrackClass::Uhd2),
        ] {
            let max = u32::try_from(max).unwrap();
            assert_eq!(TrackClass::video(max, 1), class);
            assert_eq!(TrackClass::video(max + 1, 1), next);
        }
        // A portrait rendition counts its pixels, not its width.
        assert_eq!(TrackClass::video(576, 1024), TrackClass::Sd);
        assert_eq!(TrackClass::video(0, 0), TrackClass::Sd);
        assert_eq!(TrackClass::video(u32::MAX, u32::MAX), TrackClass::Uhd2);
    }

    #[test]
    fn audio_is_audio_whatever_its_size() {
        assert_eq!(TrackClass::of(TrackKind::Audio, 3840, 2160), TrackClass::Audio);
        assert_eq!(TrackClass::of(TrackKind::Video, 1280, 720), TrackClass::Hd);
    }

    #[test]
    fn names_round_trip() {
        for c in TrackClass::ALL {
            assert_eq!(TrackClass::parse(c.as_str()), Some(c));
        }
        assert_eq!(TrackClass::parse("sd"), None);
        assert_eq!(TrackClass::parse("UHD"), None);
        assert_eq!(TrackClass::parse(""), None);
    }
}
