//! H.265 slice segment header size, ITU-T H.265 (V8, 08/2021) §7.3.6.1
//! `slice_segment_header()` with §7.3.7 `st_ref_pic_set()`, §7.3.6.2
//! `ref_pic_lists_modification()`, §7.3.6.3 `pred_weight_table()` and §7.3.2.12
//! `byte_alignment()`.
//!
//! Parameter sets are parsed by cros-codecs, but its slice header parser stores entry point
//! offsets in a fixed table of 32 and panics beyond (4K video with wavefront parallel
//! processing has 33 and more), so the slice header itself is walked here: only the syntax
//! elements are read and skipped, nothing is kept but the size. Every read is bounded by the
//! NAL unit; loops consume at least one bit per iteration or skip in one step, so hostile
//! counts end in an error, not in a long loop or an allocation.

use cros_codecs::codec::h265::parser::{Parser, Pps, ShortTermRefPicSet, Sps};

/// Reads RBSP bits from a NAL unit, removing emulation prevention bytes (0x000003, §7.4.2).
struct RbspReader<'a> {
    nal: &'a [u8],
    /// Next raw byte to fetch.
    raw: usize,
    zeros: u8,
    cur: u8,
    bits_left: u8,
}

type R<T> = std::result::Result<T, String>;

impl<'a> RbspReader<'a> {
    fn new(nal: &'a [u8], start: usize) -> Self {
        RbspReader {
            nal,
            raw: start,
            zeros: 0,
            cur: 0,
            bits_left: 0,
        }
    }

    fn next_byte(&mut self) -> R<u8> {
        let mut b = *self
            .nal
            .get(self.raw)
            .ok_or("slice header runs past the NAL unit")?;
        self.raw += 1;
        if self.zeros >= 2 && b == 3 {
            b = *self
                .nal
                .get(self.raw)
                .ok_or("slice header runs past the NAL unit")?;
            self.raw += 1;
            self.zeros = 0;
        }
        self.zeros = if b == 0 {
            self.zeros.saturating_add(1)
        } else {
            0
        };
        Ok(b)
    }

    fn bit(&mut self) -> R<bool> {
        if self.bits_left == 0 {
            self.cur = self.next_byte()?;
            self.bits_left = 8;
        }
        self.bits_left -= 1;
        Ok((self.cur >> self.bits_left) & 1 == 1)
    }

    fn bits(&mut self, n: u32) -> R<u32> {
        if n > 32 {
            return Err(format!("{n}-bit field"));
        }
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v as u32)
    }

    fn skip(&mut self, mut n: u64) -> R<()> {
        while n > 0 && self.bits_left > 0 {
            self.bit()?;
            n -= 1;
        }
        while n >= 8 {
            self.next_byte()?;
            n -= 8;
        }
        for _ in 0..n {
            self.bit()?;
        }
        Ok(())
    }

    fn ue(&mut self) -> R<u32> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err("exp-Golomb code longer than 32 bits".into());
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)).min(u64::from(u32::MAX)) as u32)
    }

    fn se(&mut self) -> R<()> {
        self.ue().map(|_| ())
    }

    /// Raw bytes consumed, once byte aligned.
    fn raw_consumed(&self) -> usize {
        self.raw
    }
}

/// Ceil(Log2(n)) for the u(v) field widths of §7.4.7.1.
fn ceil_log2(n: u32) -> u32 {
    if n <= 1 {
        0
    } else {
        32 - (n - 1).leading_zeros()
    }
}

/// `NumPicTotalCurr` contribution of a short-term RPS: pictures used by the current one.
fn used_by_curr(rps: &ShortTermRefPicSet) -> u32 {
    let neg = rps
        .used_by_curr_pic_s0
        .iter()
        .take(usize::from(rps.num_negative_pics));
    let pos = rps
        .used_by_curr_pic_s1
        .iter()
        .take(usize::from(rps.num_positive_pics));
    neg.chain(pos).filter(|&&u| u).count() as u32
}

/// Parses the slice header's own `st_ref_pic_set(num_short_term_ref_pic_sets)` and
/// returns how many of its pictures the current picture uses (§7.4.8).
fn slice_st_rps(r: &mut RbspReader<'_>, sps: &Sps) -> R<u32> {
    let idx = usize::from(sps.num_short_term_ref_pic_sets);
    let inter = idx != 0 && r.bit()?;
    if inter {
        let delta_idx = r.ue()? as usize + 1;
        let sign = r.bit()?;
        let abs = i64::from(r.ue()?) + 1;
        let delta_rps = if sign { -abs } else { abs };
        let ref_idx = idx
            .checked_sub(delta_idx)
            .ok_or("delta_idx_minus1 out of range")?;
        let rrps = sps
            .short_term_ref_pic_set
            .get(ref_idx)
            .ok_or("reference RPS missing")?;
        let neg = usize::from(rrps.num_negative_pics);
        let pos = usize::from(rrps.num_positive_pics);
        let mut used = 0;
        // j indexes the reference set's S0 entries, then its S1 entries, then deltaRps itself.
        for j in 0..=neg + pos {
            let used_flag = r.bit()?;
            if !used_flag {
                r.bit()?; // use_delta_flag
            }
            let base = if j < neg {
                i64::from(*rrps.delta_poc_s0.get(j).ok_or("RPS index")?)
            } else if j < neg + pos {
                i64::from(*rrps.delta_poc_s1.get(j - neg).ok_or("RPS index")?)
            } else {
                0
            };
            if used_flag && base + delta_rps != 0 {
                used += 1;
            }
        }
        Ok(used)
    } else {
        let neg = r.ue()?;
        let pos = r.ue()?;
        let mut used = 0;
        for _ in 0..u64::from(neg) + u64::from(pos) {
            r.ue()?;
            if r.bit()? {
                used += 1;
            }
        }
        Ok(used)
    }
}

fn pred_weight_table(r: &mut RbspReader<'_>, sps: &Sps, l0: u32, l1: Option<u32>) -> R<()> {
    r.ue()?; // luma_log2_weight_denom
    let chroma = sps.chroma_array_type != 0;
    if chroma {
        r.se()?;
    }
    for n in std::iter::once(l0).chain(l1) {
        // The flags are present for every entry: a reference picture of a single-layer,
        // non-SCC stream never has the current picture's POC (checked by the caller).
        let mut luma = Vec::new();
        for _ in 0..=n {
            luma.push(r.bit()?);
        }
        let mut chroma_flags = Vec::new();
        if chroma {
            for _ in 0..=n {
                chroma_flags.push(r.bit()?);
            }
        }
        for i in 0..luma.len() {
            if luma.get(i).copied().unwrap_or(false) {
                r.se()?;
                r.se()?;
            }
            if chroma_flags.get(i).copied().unwrap_or(false) {
                for _ in 0..4 {
                    r.se()?;
                }
            }
        }
    }
    Ok(())
}

/// Size in bytes of the slice segment header of `nal` (NAL unit header included, emulation
/// prevention bytes counted), using the parameter sets already in `parser`.
pub(super) fn slice_header_len(parser: &Parser, nal: &[u8]) -> R<usize> {
    let nal_type = nal
        .first()
        .map(|b| (b >> 1) & 0x3f)
        .ok_or("empty NAL unit")?;
    let layer_id = match nal {
        [a, b, ..] => ((a & 1) << 5) | (b >> 3),
        _ => return Err("NAL unit shorter than its header".into()),
    };
    let mut r = RbspReader::new(nal, 2);
    let first_in_pic = r.bit()?;
    if (16..=23).contains(&nal_type) {
        r.bit()?; // no_output_of_prior_pics_flag
    }
    let pps_id = r.ue()?;
    let pps: &Pps = u8::try_from(pps_id)
        .ok()
        .and_then(|id| parser.get_pps(id))
        .ok_or_else(|| format!("no PPS with id {pps_id}"))?;
    let sps: &Sps = &pps.sps;
    let mut dependent = false;
    if !first_in_pic {
        if pps.dependent_slice_segments_enabled_flag {
            dependent = r.bit()?;
        }
        r.skip(u64::from(ceil_log2(sps.pic_size_in_ctbs_y)))?;
    }
    if !dependent {
        r.skip(u64::from(pps.num_extra_slice_header_bits))?;
        let slice_type = r.ue()?;
        let (is_p, is_b) = match slice_type {
            0 => (false, true),
            1 => (true, false),
            2 => (false, false),
            t => return Err(format!("slice_type {t}")),
        };
        if pps.output_flag_present_flag {
            r.bit()?;
        }
        if sps.separate_colour_plane_flag {
            r.skip(2)?;
        }
        let mut temporal_mvp = false;
        let mut total_curr = 0u32;
        if nal_type != 19 && nal_type != 20 {
            let poc_bits = u32::from(sps.log2_max_pic_order_cnt_lsb_minus4) + 4;
            r.skip(u64::from(poc_bits))?;
            let from_sps = r.bit()?;
            if !from_sps {
                total_curr += slice_st_rps(&mut r, sps)?;
            } else {
                let mut idx = 0;
                if sps.num_short_term_ref_pic_sets > 1 {
                    idx = r.bits(ceil_log2(u32::from(sps.num_short_term_ref_pic_sets)))?;
                }
                let rps = sps
                    .short_term_ref_pic_set
                    .get(idx as usize)
                    .ok_or("short_term_ref_pic_set_idx")?;
                total_curr += used_by_curr(rps);
            }
            if sps.long_term_ref_pics_present_flag {
                let mut lt_sps = 0;
                if sps.num_long_term_ref_pics_sps > 0 {
                    lt_sps = r.ue()?;
                }
                let lt_pics = r.ue()?;
                for i in 0..u64::from(lt_sps) + u64::from(lt_pics) {
                    let used = if i < u64::from(lt_sps) {
                        let mut lt_idx = 0;
                        if sps.num_long_term_ref_pics_sps > 1 {
                            lt_idx =
                                r.bits(ceil_log2(u32::from(sps.num_long_term_ref_pics_sps)))?;
                        }
                        *sps.used_by_curr_pic_lt_sps_flag
                            .get(lt_idx as usize)
                            .ok_or("lt_idx_sps")?
                    } else {
                        r.skip(u64::from(poc_bits))?;
                        r.bit()?
                    };
                    if used {
                        total_curr += 1;
                    }
                    if r.bit()? {
                        r.ue()?; // delta_poc_msb_cycle_lt
                    }
                }
            }
            if sps.temporal_mvp_enabled_flag {
                temporal_mvp = r.bit()?;
            }
        }
        let (mut sao_luma, mut sao_chroma) = (false, false);
        if sps.sample_adaptive_offset_enabled_flag {
            sao_luma = r.bit()?;
            if sps.chroma_array_type != 0 {
                sao_chroma = r.bit()?;
            }
        }
        if is_p || is_b {
            let mut l0 = u32::from(pps.num_ref_idx_l0_default_active_minus1);
            let mut l1 = u32::from(pps.num_ref_idx_l1_default_active_minus1);
            if r.bit()? {
                l0 = r.ue()?;
                if is_b {
                    l1 = r.ue()?;
                }
            }
            if l0 > 14 || l1 > 14 {
                return Err("num_ref_idx_active_minus1 above 14".into());
            }
            if pps.scc_extension.curr_pic_ref_enabled_flag {
                return Err("screen content coding (curr_pic_ref) is not supported".into());
            }
            if pps.lists_modification_present_flag && total_curr > 1 {
                let entry_bits = u64::from(ceil_log2(total_curr));
                if r.bit()? {
                    r.skip(entry_bits * (u64::from(l0) + 1))?;
                }
                if is_b && r.bit()? {
                    r.skip(entry_bits * (u64::from(l1) + 1))?;
                }
            }
            if is_b {
                r.bit()?; // mvd_l1_zero_flag
            }
            if pps.cabac_init_present_flag {
                r.bit()?;
            }
            if temporal_mvp {
                let from_l0 = if is_b { r.bit()? } else { true };
                if (from_l0 && l0 > 0) || (!from_l0 && l1 > 0) {
                    r.ue()?; // collocated_ref_idx
                }
            }
            if (pps.weighted_pred_flag && is_p) || (pps.weighted_bipred_flag && is_b) {
                if layer_id != 0 {
                    return Err(
                        "weighted prediction in multi-layer streams is not supported".into(),
                    );
                }
                pred_weight_table(&mut r, sps, l0, is_b.then_some(l1))?;
            }
            r.ue()?; // five_minus_max_num_merge_cand
            if sps.scc_extension.motion_vector_resolution_control_idc == 2 {
                r.bit()?;
            }
        }
        r.se()?; // slice_qp_delta
        if pps.slice_chroma_qp_offsets_present_flag {
            r.se()?;
            r.se()?;
        }
        if pps.scc_extension.slice_act_qp_offsets_present_flag {
            for _ in 0..3 {
                r.se()?;
            }
        }
        if pps.range_extension.chroma_qp_offset_list_enabled_flag {
            r.bit()?;
        }
        let mut override_flag = false;
        if pps.deblocking_filter_override_enabled_flag {
            override_flag = r.bit()?;
        }
        let mut deblocking_disabled = pps.deblocking_filter_disabled_flag;
        if override_flag {
            deblocking_disabled = r.bit()?;
            if !deblocking_disabled {
                r.se()?;
                r.se()?;
            }
        }
        if pps.loop_filter_across_slices_enabled_flag
            && (sao_luma || sao_chroma || !deblocking_disabled)
        {
            r.bit()?;
        }
    }
    if pps.tiles_enabled_flag || pps.entropy_coding_sync_enabled_flag {
        let n = r.ue()?;
        if n > 0 {
            let len = r.ue()?;
            if len > 31 {
                return Err(format!("offset_len_minus1 {len}"));
            }
            r.skip(u64::from(n) * (u64::from(len) + 1))?;
        }
    }
    if pps.slice_segment_header_extension_present_flag {
        let n = r.ue()?;
        r.skip(u64::from(n) * 8)?;
    }
    // byte_alignment(): alignment_bit_equal_to_one, then zero bits to the byte boundary.
    if !r.bit()? {
        return Err("alignment_bit_equal_to_one is 0".into());
    }
    while r.bits_left > 0 {
        r.bit()?;
    }
    Ok(r.raw_consumed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_removes_emulation_prevention() {
        // RBSP 00 00 01 is coded as 00 00 03 01.
        let nal = [0x40, 0x01, 0x00, 0x00, 0x03, 0x01, 0x80];
        let mut r = RbspReader::new(&nal, 2);
        assert_eq!(r.bits(24).unwrap(), 1);
        assert_eq!(r.raw_consumed(), 6);
        assert!(r.bit().unwrap());
        assert!(r.bits(8).is_err());
    }

    #[test]
    fn ue_values_and_limits() {
        // 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3
        let nal = [0, 0, 0b1010_0110, 0b0100_0000];
        let mut r = RbspReader::new(&nal, 2);
        assert_eq!(
            [
                r.ue().unwrap(),
                r.ue().unwrap(),
                r.ue().unwrap(),
                r.ue().unwrap()
            ],
            [0, 1, 2, 3]
        );
        let zeros = [0u8; 12];
        assert!(RbspReader::new(&zeros, 0).ue().is_err());
        assert_eq!(ceil_log2(1), 0);
        assert_eq!(ceil_log2(2), 1);
        assert_eq!(ceil_log2(3), 2);
        assert_eq!(ceil_log2(510), 9);
    }
}
