//! placeholder
pub struct SubsampleGenerator;
