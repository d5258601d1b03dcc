//! Throughput of in-process fuzzing: generated resource sets built and translated per second,
//! and the oracle's predictions for the same cases.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gatesim_conformance::fuzz::cluster;
use gatesim_conformance::oracle::Model;
use gatesim_generate::{Case, GenConfig, request, strategy};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

fn cases(n: usize) -> Vec<Case> {
    let mut runner = TestRunner::deterministic();
    let s = strategy::case(GenConfig::default());
    (0..n)
        .map(|_| s.new_tree(&mut runner).expect("a case").current())
        .collect()
}

fn bench(c: &mut Criterion) {
    let cases = cases(64);
    let mut group = c.benchmark_group("fuzz");
    group.throughput(Throughput::Elements(cases.len() as u64));
    group.bench_function("generate 64 cases", |b| b.iter(|| self::cases(64)));
    group.bench_function("build and translate 64 sets", |b| {
        b.iter(|| {
            for case in &cases {
                let set = cluster::world_set(&case.world).expect("the world decodes");
                std::hint::black_box(gatesim_reference::translate::translate(&set));
            }
        })
    });
    group.bench_function("oracle status and requests of 64 cases", |b| {
        b.iter(|| {
            for case in &cases {
                let model = Model::new(&case.world);
                std::hint::black_box(model.status());
                for r in request::resolve(&case.world, &case.requests) {
                    std::hint::black_box(model.predict(&r));
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
