//! The one number formatter of every rendering (terminal tables, Markdown, HTML, the findings,
//! the claims and advice text, the ADR): thousands grouped from 1,000 (`5,524`, `12,624`), three
//! significant figures below (`182`, `27.8`, `8.50`, `0.570`), `–` for a figure that is not a
//! number; counts (connections held) by [`count`], grouped the same way. It is
//! [`workloads::format::num`], so that the adviser's explanations (which cannot
//! depend on the reports) format their figures the same way.

pub use workloads::format::{count, num};
