//! One grant + renew + release cycle through the server, and one resource write check.
//! Run: `cargo bench -p leaseproof-impl --bench core`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use leaseproof_impl::*;

fn cycle(c: &mut Criterion) {
    let cfg = ProtocolConfig::default().validate().unwrap();
    let client = NodeId(2);
    let mut server = LockServer::restore(&cfg, Identity::default(), &Disk::default(), Nanos(0));
    while server.poll_output().is_some() {}
    let mut seq = 0u64;
    let mut now = Nanos::from_ms(3_600_000);
    c.bench_function("server grant+renew+release", |b| {
        b.iter(|| {
            let key = Key(0);
            let mut id = || {
                seq += 1;
                ReqId {
                    incarnation: 0,
                    seq,
                }
            };
            now = now.plus(1_000);
            server.handle_message(now, client, Msg::Acquire { key, id: id() });
            let mut token = Token(0);
            while let Some(o) = server.poll_output() {
                if let Output::Send {
                    msg: Msg::Granted { token: t, .. },
                    ..
                } = o
                {
                    token = t;
                }
            }
            server.handle_message(
                now,
                client,
                Msg::Renew {
                    key,
                    id: id(),
                    token,
                    acked: 0,
                },
            );
            while let Some(o) = server.poll_output() {
                black_box(o);
            }
            server.handle_message(
                now,
                client,
                Msg::Release {
                    key,
                    id: id(),
                    token,
                },
            );
            while let Some(o) = server.poll_output() {
                black_box(o);
            }
        })
    });

    let mut resource =
        FencedResource::restore(&cfg, Identity::default(), &Disk::default(), Nanos(0));
    while resource.poll_output().is_some() {}
    let mut wseq = 0u64;
    c.bench_function("resource write check", |b| {
        b.iter(|| {
            wseq += 1;
            resource.handle_message(
                Nanos(0),
                client,
                Msg::Write {
                    key: Key(0),
                    token: Token(wseq),
                    idem: IdemKey {
                        node: client,
                        incarnation: 0,
                        seq: wseq,
                    },
                },
            );
            while let Some(o) = resource.poll_output() {
                black_box(o);
            }
        })
    });
}

criterion_group!(benches, cycle);
criterion_main!(benches);
