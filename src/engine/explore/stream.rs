//! The cases of a generated property as one deterministic stream from (seed, shard, property):
//! each case has a seed of its own, drawn from the stream, that regenerates it alone. How many
//! workers run the cases changes nothing about which cases there are or which fails first.

use proptest::prelude::Rng;
use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::generate::Plan;
use crate::model::{Property, Shard};

/// A case's own seed: proptest's ChaCha seed, written as proptest writes it (`cc <hex>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CaseSeed(pub(super) [u8; 32]);

impl CaseSeed {
    /// `cc <64 hex digits>`, the line prefix of a proptest regressions file.
    pub(super) fn persisted(&self) -> String {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        format!("cc {hex}")
    }

    /// The hex digits after `cc `; `None` unless exactly 64 of them.
    pub(super) fn parse(hex: &str) -> Option<CaseSeed> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(CaseSeed(bytes))
    }

    /// The runner whose RNG generates this case (and then shrinks it).
    pub(super) fn runner(&self, config: &Config) -> TestRunner {
        TestRunner::new_with_rng(config.clone(), TestRng::from_seed(RngAlgorithm::ChaCha, &self.0))
    }

    /// The case's value tree, for shrinking.
    pub(super) fn tree(&self, strategy: &BoxedStrategy<Plan>, runner: &mut TestRunner) -> Result<Box<dyn ValueTree<Value = Plan>>, String> {
        strategy.new_tree(runner).map(|tree| Box::new(tree) as Box<dyn ValueTree<Value = Plan>>).map_err(|reason| reason.to_string())
    }
}

/// A generated case and the seed that regenerates it.
#[derive(Debug, Clone)]
pub(super) struct Generated {
    pub(super) seed: CaseSeed,
    pub(super) plan: Plan,
}

/// The stream of one property's cases.
pub(super) struct CaseStream {
    master: TestRng,
    strategy: BoxedStrategy<Plan>,
    config: Config,
}

impl CaseStream {
    pub(super) fn new(strategy: BoxedStrategy<Plan>, config: Config, seed: u64, shard: Option<Shard>, property: Property) -> CaseStream {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..16].copy_from_slice(&u64::from(shard.map_or(0, |s| s.index)).to_le_bytes());
        bytes[16..24].copy_from_slice(&u64::from(shard.map_or(0, |s| s.count)).to_le_bytes());
        bytes[24] = property as u8;
        CaseStream { master: TestRng::from_seed(RngAlgorithm::ChaCha, &bytes), strategy, config }
    }

    /// The next `count` cases.
    pub(super) fn next_cases(&mut self, count: usize) -> Result<Vec<Generated>, String> {
        (0..count)
            .map(|_| {
                let mut bytes = [0u8; 32];
                self.master.fill_bytes(&mut bytes);
                let seed = CaseSeed(bytes);
                let plan = seed.tree(&self.strategy, &mut seed.runner(&self.config))?.current();
                Ok(Generated { seed, plan })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(seed: u64, shard: Option<Shard>) -> CaseStream {
        let strategy = proptest::collection::vec(0..1000usize, 0..12)
            .prop_map(|order| Plan { applied: Default::default(), preexisting: Default::default(), interrupted: None, order })
            .boxed();
        CaseStream::new(strategy, Config::default(), seed, shard, Property::Order)
    }

    /// A case's seed alone regenerates it, and reads back from its persisted text.
    #[test]
    fn a_case_seed_regenerates_its_case() {
        let cases = stream(7, None).next_cases(20).expect("vectors always generate");
        let strategy = stream(7, None).strategy;
        for case in &cases {
            let text = case.seed.persisted();
            let seed = CaseSeed::parse(text.strip_prefix("cc ").expect("cc prefix")).expect("parses back");
            assert_eq!(seed, case.seed);
            assert_eq!(seed.tree(&strategy, &mut seed.runner(&Config::default())).expect("generates").current(), case.plan);
        }
        assert!(cases.windows(2).any(|w| w[0].plan != w[1].plan), "the cases differ from each other");
    }

    /// The stream depends on the seed and the shard, and on nothing else.
    #[test]
    fn the_stream_is_a_function_of_seed_and_shard() {
        let plans = |seed, shard| stream(seed, shard).next_cases(10).expect("generates").into_iter().map(|c| c.plan).collect::<Vec<_>>();
        assert_eq!(plans(1, None), plans(1, None));
        assert_ne!(plans(1, None), plans(2, None));
        let half = |index| Some(Shard { index, count: 2 });
        assert_ne!(plans(1, half(1)), plans(1, half(2)));
        assert_ne!(plans(1, half(1)), plans(1, None));
        // Drawing in two chunks gives the same cases as drawing at once.
        let mut chunked = stream(3, None);
        let mut first = chunked.next_cases(4).expect("generates");
        first.extend(chunked.next_cases(6).expect("generates"));
        assert_eq!(first.into_iter().map(|c| c.plan).collect::<Vec<_>>(), plans(3, None));
    }

    #[test]
    fn malformed_seeds_do_not_parse() {
        assert!(CaseSeed::parse("00").is_none());
        assert!(CaseSeed::parse(&"zz".repeat(32)).is_none());
        assert!(CaseSeed::parse(&"0a".repeat(32)).is_some());
    }
}
