//! Removes location metadata from uploaded photos as they stream past.
//!
//! Threat: a photo shared in a workspace tells where it was taken. Cameras
//! and phones write GPS coordinates into Exif, and editors copy them into
//! XMP. The stripper drops those blocks whole (the camera model and the
//! time go with them) and passes every other byte through unchanged:
//!
//! - JPEG (starts `FF D8`): the marker segments before the first scan
//!   (`FF DA`) are parsed as they arrive, and every APP1 segment whose
//!   payload starts with `Exif\0` (normally `Exif\0\0`), or is XMP
//!   (`http://ns.adobe.com/xap/1.0/\0`) or extended XMP
//!   (`http://ns.adobe.com/xmp/extension/\0`), is dropped. From the scan on,
//!   bytes pass unchanged (so the extra images of a multi-picture file,
//!   which follow the first image's end, keep their own metadata).
//! - PNG (the 8-byte signature): chunks are length-prefixed; `eXIf` chunks
//!   and `tEXt`/`zTXt`/`iTXt` chunks with the keyword `XML:com.adobe.xmp`
//!   are dropped, up to `IEND`.
//! - Anything else passes through unchanged.
//!
//! State machine: `Sniff` holds the first bytes until the format is known,
//! then either `Pass` (everything through) or one of the parsers. A parser
//! holds the start of a segment or chunk only until it can decide (at most
//! 39 bytes: a JPEG segment header and the longest APP1 prefix), then
//! passes the rest of it through (`Keep`) or drops it as it streams
//! (`Skip`). Input that breaks the format's rules switches to `Pass`, so
//! what a malformed file has not already had removed is kept, byte for
//! byte. Bytes are only ever dropped by `Skip`, which marks the stripper as
//! `stripped()`: if it says false, the output is the input.

/// A streaming filter that drops location-bearing metadata; see the module
/// documentation.
#[derive(Debug, Default)]
pub struct LocationStripper {
    state: State,
    /// Bytes read but not yet decided on: the start of a file, segment or
    /// chunk.
    held: Vec<u8>,
    stripped: bool,
}

impl LocationStripper {
    /// A stripper at the start of a file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the bytes to pass on (possibly fewer, held back
    /// while a header is being parsed).
    pub fn push(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() + self.held.len());
        let mut rest = input;
        while !rest.is_empty() {
            match self.state {
                State::Pass => {
                    out.extend_from_slice(rest);
                    rest = &[];
                }
                State::Keep { left, then } | State::Skip { left, then } => {
                    let keep = matches!(self.state, State::Keep { .. });
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    let (now, later) = rest.split_at(n);
                    if keep {
                        out.extend_from_slice(now);
                    }
                    rest = later;
                    // `n` is at most `left`, so this cannot underflow.
                    let left = left - n as u64;
                    self.state = match (left, keep) {
                        (0, _) => then.resume(),
                        (_, true) => State::Keep { left, then },
                        (_, false) => State::Skip { left, then },
                    };
                }
                State::Sniff | State::JpegMarker | State::PngChunk => {
                    let (byte, later) = rest.split_at(1);
                    self.held.extend_from_slice(byte);
                    rest = later;
                    self.decide(&mut out);
                }
            }
        }
        out
    }

    /// End of input: returns what is still held back (an unfinished header
    /// is passed on as it is).
    pub fn finish(self) -> Vec<u8> {
        self.held
    }

    /// True once metadata was removed (for tests/logging).
    pub fn stripped(&self) -> bool {
        self.stripped
    }

    /// Looks at the held bytes after each new one: waits for more, or
    /// decides what to do with them and moves on.
    fn decide(&mut self, out: &mut Vec<u8>) {
        let step = match self.state {
            State::Sniff => sniff(&self.held),
            State::JpegMarker => jpeg_marker(&self.held),
            State::PngChunk => png_chunk(&self.held),
            _ => Step::Pass,
        };
        match step {
            Step::More => {}
            Step::EmitOne => {
                // A JPEG fill byte: pass it on, keep waiting for the marker.
                out.extend(self.held.drain(..1));
            }
            Step::Next(next) => {
                out.append(&mut self.held);
                self.state = next.resume();
            }
            Step::Keep { left, then } => {
                out.append(&mut self.held);
                self.state = keep_or_resume(State::Keep { left, then }, left, then);
            }
            Step::Drop { left, then } => {
                self.held.clear();
                self.stripped = true;
                self.state = keep_or_resume(State::Skip { left, then }, left, then);
            }
            Step::Pass => {
                out.append(&mut self.held);
                self.state = State::Pass;
            }
        }
    }
}

/// Where a stripper is in its input.
#[derive(Debug, Default)]
enum State {
    /// The first bytes, until the format is known.
    #[default]
    Sniff,
    /// Everything passes through unchanged.
    Pass,
    /// Reading the start of a JPEG marker segment.
    JpegMarker,
    /// Reading the start of a PNG chunk.
    PngChunk,
    /// Passing `left` more bytes through, then `then`.
    Keep { left: u64, then: Next },
    /// Dropping `left` more bytes, then `then`.
    Skip { left: u64, then: Next },
}

/// What follows a segment or chunk.
#[derive(Debug, Clone, Copy)]
enum Next {
    JpegMarker,
    PngChunk,
}

impl Next {
    fn resume(self) -> State {
        match self {
            Next::JpegMarker => State::JpegMarker,
            Next::PngChunk => State::PngChunk,
        }
    }
}

fn keep_or_resume(state: State, left: u64, then: Next) -> State {
    if left == 0 {
        then.resume()
    } else {
        state
    }
}

/// A decision about the held bytes.
#[derive(Debug)]
enum Step {
    /// Not enough bytes yet.
    More,
    /// Pass the first held byte on and wait for more.
    EmitOne,
    /// Pass the held bytes on and read the next header.
    Next(Next),
    /// Pass the held bytes and `left` more on, then `then`.
    Keep { left: u64, then: Next },
    /// Drop the held bytes and `left` more, then `then`.
    Drop { left: u64, then: Next },
    /// Pass the held bytes and everything after on.
    Pass,
}

const JPEG_SOI: &[u8] = &[0xFF, 0xD8];
const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

/// APP1 payloads that can carry a location.
const JPEG_DROPPED_APP1: &[&[u8]] = &[
    b"Exif\0",
    b"http://ns.adobe.com/xap/1.0/\0",
    b"http://ns.adobe.com/xmp/extension/\0",
];

/// Text chunks whose keyword (NUL-terminated) marks XMP.
const PNG_XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp\0";

fn sniff(held: &[u8]) -> Step {
    if held == JPEG_SOI {
        Step::Next(Next::JpegMarker)
    } else if held == PNG_SIGNATURE {
        Step::Next(Next::PngChunk)
    } else if JPEG_SOI.starts_with(held) || PNG_SIGNATURE.starts_with(held) {
        Step::More
    } else {
        Step::Pass
    }
}

/// `held` is the start of a JPEG marker segment (before the first scan).
fn jpeg_marker(held: &[u8]) -> Step {
    let (first, marker) = match held {
        [] | [_] => return Step::More,
        [first, marker, ..] => (*first, *marker),
    };
    if first != 0xFF {
        return Step::Pass;
    }
    match marker {
        // A fill byte before the marker.
        0xFF => Step::EmitOne,
        // The first scan, or the end of the image: the rest passes.
        0xDA | 0xD9 => Step::Pass,
        // Markers without a length.
        0x01 | 0xD0..=0xD7 => Step::Next(Next::JpegMarker),
        // A stuffed zero or a second start of image: not a JPEG after all.
        0x00 | 0xD8 => Step::Pass,
        _ => {
            let length = match held.get(2..4) {
                Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
                _ => return Step::More,
            };
            let Some(payload_len) = u64::from(length).checked_sub(2) else {
                return Step::Pass;
            };
            let payload = held.get(4..).unwrap_or_default();
            let drop = marker == 0xE1 && {
                match matches_any(payload, payload_len, JPEG_DROPPED_APP1) {
                    Some(drop) => drop,
                    None => return Step::More,
                }
            };
            segment_step(payload, payload_len, drop, Next::JpegMarker)
        }
    }
}

/// `held` is the start of a PNG chunk.
fn png_chunk(held: &[u8]) -> Step {
    let (length, kind) = match held.get(..8) {
        Some(&[a, b, c, d, t0, t1, t2, t3]) => (u32::from_be_bytes([a, b, c, d]), [t0, t1, t2, t3]),
        _ => return Step::More,
    };
    if length > 0x7FFF_FFFF || !kind.iter().all(u8::is_ascii_alphabetic) {
        return Step::Pass;
    }
    // The chunk's data and its 4-byte CRC.
    let body_len = u64::from(length) + 4;
    let data = held.get(8..).unwrap_or_default();
    let drop = match &kind {
        b"IEND" => return Step::Pass,
        b"eXIf" => true,
        b"tEXt" | b"zTXt" | b"iTXt" => {
            match matches_any(data, u64::from(length), &[PNG_XMP_KEYWORD]) {
                Some(drop) => drop,
                None => return Step::More,
            }
        }
        _ => false,
    };
    segment_step(data, body_len, drop, Next::PngChunk)
}

/// The step for a segment whose first `read` bytes of `total` after the
/// header are held.
fn segment_step(read: &[u8], total: u64, drop: bool, then: Next) -> Step {
    let left = total.saturating_sub(read.len() as u64);
    if drop {
        Step::Drop { left, then }
    } else {
        Step::Keep { left, then }
    }
}

/// Whether a payload of `total` bytes, of which `start` has arrived, begins
/// with one of `prefixes`: `None` while that is still open.
fn matches_any(start: &[u8], total: u64, prefixes: &[&[u8]]) -> Option<bool> {
    let mut open = false;
    for prefix in prefixes {
        if start.starts_with(prefix) {
            return Some(true);
        }
        let more_to_come = (start.len() as u64) < total;
        if more_to_come && start.len() < prefix.len() && prefix.starts_with(start) {
            open = true;
        }
    }
    if open {
        None
    } else {
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GPS_MARKER: &[u8] = b"GPS-SECRET-60.1699N-24.9384E";
    /// The most a stripper holds back: a JPEG marker, marker byte, length
    /// and the longest APP1 prefix (a PNG chunk header and keyword is less).
    const MAX_HELD: usize = 4 + 35;

    /// Feeds `input` in pieces of the given sizes (the last piece takes the
    /// rest), checking the hold-back bound after each push.
    fn check(input: &[u8], sizes: &[usize]) -> (Vec<u8>, bool) {
        let mut stripper = LocationStripper::new();
        let mut out = Vec::new();
        let mut rest = input;
        for size in sizes {
            let (now, later) = rest.split_at((*size).min(rest.len()));
            out.extend(stripper.push(now));
            assert!(stripper.held.len() <= MAX_HELD);
            rest = later;
        }
        out.extend(stripper.push(rest));
        let stripped = stripper.stripped();
        out.extend(stripper.finish());
        (out, stripped)
    }

    /// Every split into two pushes, and one byte at a time, give `expected`.
    fn check_all_splits(input: &[u8], expected: &[u8], stripped: bool) {
        for split in 0..=input.len() {
            let (out, did) = check(input, &[split]);
            assert!(out == expected, "split at {split}");
            assert_eq!(did, stripped, "split at {split}");
        }
        let (out, did) = check(input, &vec![1; input.len()]);
        assert!(out == expected, "one byte at a time");
        assert_eq!(did, stripped);
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len() + 2).unwrap();
        let mut out = vec![0xFF, marker];
        out.extend(len.to_be_bytes());
        out.extend(payload);
        out
    }

    /// An Exif APP1 payload: a big-endian TIFF header, IFD0 with a pointer
    /// to a GPS IFD, and a GPS IFD whose area-information tag holds the
    /// marker.
    fn exif_payload() -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend(b"MM\0\x2a\0\0\0\x08"); // header, IFD0 at 8
        tiff.extend(1u16.to_be_bytes()); // IFD0: one entry
        tiff.extend([0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26]); // GPS IFD at 26
        tiff.extend(0u32.to_be_bytes()); // no next IFD
        tiff.extend(1u16.to_be_bytes()); // GPS IFD: one entry
        let count = u32::try_from(GPS_MARKER.len()).unwrap();
        tiff.extend([0x00, 0x1C, 0, 7]); // GPSAreaInformation, UNDEFINED
        tiff.extend(count.to_be_bytes());
        tiff.extend(44u32.to_be_bytes()); // value at 44
        tiff.extend(0u32.to_be_bytes());
        assert_eq!(tiff.len(), 44);
        tiff.extend(GPS_MARKER);
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend(tiff);
        payload
    }

    /// A hand-built JPEG and the same file without its location segments.
    fn jpeg() -> (Vec<u8>, Vec<u8>) {
        let soi = vec![0xFF, 0xD8];
        let app0 = jpeg_segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        let exif = jpeg_segment(0xE1, &exif_payload());
        let mut xmp_payload = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>".to_vec();
        xmp_payload.extend(GPS_MARKER);
        xmp_payload.extend(b"</x:xmpmeta>");
        let xmp = jpeg_segment(0xE1, &xmp_payload);
        // An APP1 that is neither Exif nor XMP, and one too short to tell.
        let other_app1 = jpeg_segment(0xE1, b"Other\0data");
        let tiny_app1 = jpeg_segment(0xE1, b"Ex");
        let dqt = jpeg_segment(0xDB, &[0; 65]);
        let fill = vec![0xFF, 0xFF];
        let sos = jpeg_segment(0xDA, &[1, 1, 0, 0, 0x3F, 0]);
        // Scan data: stuffed bytes, a restart marker, and bytes that would
        // look like an Exif segment were they before the scan.
        let mut scan = vec![0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56];
        scan.extend(jpeg_segment(0xE1, b"Exif\0\0not-parsed-here"));
        let eoi = vec![0xFF, 0xD9];

        let input = cat(&[
            &soi,
            &app0,
            &exif,
            &other_app1,
            &xmp,
            &tiny_app1,
            &fill,
            &dqt,
            &sos,
            &scan,
            &eoi,
        ]);
        let expected = cat(&[
            &soi,
            &app0,
            &other_app1,
            &tiny_app1,
            &fill,
            &dqt,
            &sos,
            &scan,
            &eoi,
        ]);
        (input, expected)
    }

    fn png_chunk_bytes(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        out.extend(kind);
        out.extend(data);
        out.extend([0xC0, 0xFF, 0xEE, 0x00]); // the CRC is not checked
        out
    }

    /// A hand-built PNG and the same file without its location chunks.
    fn png() -> (Vec<u8>, Vec<u8>) {
        let sig = PNG_SIGNATURE.to_vec();
        let ihdr = png_chunk_bytes(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        let mut exif_data = exif_payload();
        exif_data.drain(..6); // eXIf holds the TIFF data without "Exif\0\0"
        let exif = png_chunk_bytes(b"eXIf", &exif_data);
        let text = png_chunk_bytes(b"tEXt", b"Comment\0holiday");
        let mut xmp_data = b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta>".to_vec();
        xmp_data.extend(GPS_MARKER);
        let itxt = png_chunk_bytes(b"iTXt", &xmp_data);
        let mut ztxt_data = b"XML:com.adobe.xmp\0\0".to_vec();
        ztxt_data.extend(GPS_MARKER);
        let ztxt = png_chunk_bytes(b"zTXt", &ztxt_data);
        let short_text = png_chunk_bytes(b"tEXt", b"XML");
        let idat = png_chunk_bytes(b"IDAT", &[0x78, 0x9C, 0x63, 0, 1, 0, 0, 5, 0, 1]);
        let iend = png_chunk_bytes(b"IEND", &[]);
        // After IEND nothing is parsed.
        let trailer = png_chunk_bytes(b"eXIf", b"after-the-end");

        let input = cat(&[
            &sig,
            &ihdr,
            &exif,
            &text,
            &itxt,
            &short_text,
            &idat,
            &ztxt,
            &iend,
            &trailer,
        ]);
        let expected = cat(&[&sig, &ihdr, &text, &short_text, &idat, &iend, &trailer]);
        (input, expected)
    }

    #[test]
    fn jpeg_loses_its_exif_and_xmp_and_nothing_else() {
        let (input, expected) = jpeg();
        assert!(contains(&input, GPS_MARKER));
        assert!(!contains(&expected, GPS_MARKER));
        check_all_splits(&input, &expected, true);
    }

    #[test]
    fn png_loses_its_exif_and_xmp_and_nothing_else() {
        let (input, expected) = png();
        assert!(contains(&input, GPS_MARKER));
        assert!(!contains(&expected, GPS_MARKER));
        check_all_splits(&input, &expected, true);
    }

    #[test]
    fn a_jpeg_without_location_passes_unchanged() {
        let (_, clean) = jpeg();
        check_all_splits(&clean, &clean, false);
    }

    #[test]
    fn other_files_pass_unchanged() {
        for input in [
            &b""[..],
            b"\xFF",
            b"\x89PNG",
            b"\xFF\xD9",
            b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n",
            b"hello, world",
            b"\x89PNG\r\n\x1a\x0b not quite",
        ] {
            check_all_splits(input, input, false);
        }
    }

    #[test]
    fn a_malformed_jpeg_passes_on_from_where_it_breaks() {
        // Junk where a marker should be.
        let input = b"\xFF\xD8\xFF\xE0\x00\x04ab junk \xFF\xE1\x00\x08Exif\0\0";
        check_all_splits(input, input, false);
        // A length below two.
        let input = b"\xFF\xD8\xFF\xE1\x00\x01Exif\0\0";
        check_all_splits(input, input, false);
        // Cut off inside the header: what was held comes out at the end.
        let input = b"\xFF\xD8\xFF\xE1\x00\x40Exi";
        check_all_splits(input, input, false);
    }

    #[test]
    fn a_truncated_exif_segment_is_dropped_as_far_as_it_goes() {
        let mut input = b"\xFF\xD8".to_vec();
        input.extend(&jpeg_segment(0xE1, &exif_payload())[..30]);
        check_all_splits(&input, b"\xFF\xD8", true);
    }

    #[test]
    fn a_malformed_png_passes_on_from_where_it_breaks() {
        let mut input = PNG_SIGNATURE.to_vec();
        input.extend(png_chunk_bytes(b"IHDR", &[0; 13]));
        input.extend(b"\xFF\xFF\xFF\xFFeXIf what follows is not a chunk");
        check_all_splits(&input, &input, false);
        let mut input = PNG_SIGNATURE.to_vec();
        input.extend(b"\0\0\0\x04e1If\0\0\0\0\0\0\0\0");
        check_all_splits(&input, &input, false);
    }

    #[test]
    fn a_long_kept_segment_streams_through_without_being_held() {
        let mut stripper = LocationStripper::new();
        let mut head = b"\xFF\xD8".to_vec();
        head.extend(jpeg_segment(0xE2, &[7; 60_000]));
        let out = stripper.push(&head[..10_000]);
        assert_eq!(out, head[..10_000]);
        let out = stripper.push(&head[10_000..]);
        assert_eq!(out, head[10_000..]);
    }

    #[test]
    fn random_bytes_never_panic_and_pass_unless_something_was_stripped() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (jpeg_file, _) = jpeg();
        let (png_file, _) = png();
        let mut stripped_rounds = 0;
        for round in 0..3000 {
            let len = (next() % 600) as usize;
            let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            match round % 4 {
                // A real start, then noise or a damaged real file.
                1 => input = [JPEG_SOI, &input].concat(),
                2 => input = [PNG_SIGNATURE, &input].concat(),
                3 => {
                    input = if round % 8 == 3 {
                        jpeg_file.clone()
                    } else {
                        png_file.clone()
                    };
                    for _ in 0..1 + next() % 4 {
                        let at = (next() as usize) % input.len();
                        input[at] = next() as u8;
                    }
                    input.truncate((next() as usize) % (input.len() + 1));
                }
                _ => {}
            }
            let sizes: Vec<usize> = (0..next() % 6).map(|_| (next() % 70) as usize).collect();
            let (out, stripped) = check(&input, &sizes);
            stripped_rounds += usize::from(stripped);
            assert!(out.len() <= input.len());
            if !stripped {
                assert!(out == input, "round {round}: changed without stripping");
            }
            let image = input.starts_with(JPEG_SOI) || input.starts_with(PNG_SIGNATURE);
            if !image {
                assert!(!stripped && out == input, "round {round}");
            }
        }
        // The damaged real files still exercise the dropping paths.
        assert!(stripped_rounds > 100, "{stripped_rounds}");
    }
}
