// Micro-benchmarks of engine hot paths on in-memory ports (no I/O): job creation with a file,
// resume/suspend transitions (alone and with many queued jobs), the loop's timer work, and
// progress checkpoint handling. The store's side of a checkpoint: bench/store_bench.cpp.
#include "engine/engine.hpp"
#include "fakes.hpp"

#include <benchmark/benchmark.h>

namespace bgcopy::engine {
namespace {

struct Bench {
  ManualClock clock;
  test::FakeStore store;
  test::FakeTransfer transfer;
  test::FakeStaging staging;
  test::RecordingSink sink;
  EngineConfig config = [] {
    EngineConfig c;
    c.max_jobs_per_user = 1'000'000;
    return c;
  }();
  Engine engine{config, clock, store, transfer, staging, sink};
  Caller me{1000};

  JobId make_job() {
    JobId id = *engine.create_job(me, "bench", JobType::Download);
    (void)engine.add_files(me, id, {FileSpec{"http://127.0.0.1/x", "/tmp/x", {}, std::nullopt}});
    return id;
  }
};

void BM_CreateAddFile(benchmark::State& state) {
  Bench b;
  for (auto _ : state) benchmark::DoNotOptimize(b.make_job());
}
BENCHMARK(BM_CreateAddFile);

void BM_ResumeSuspend(benchmark::State& state) {
  Bench b;
  JobId id = b.make_job();
  for (auto _ : state) {
    (void)b.engine.resume(b.me, id);
    (void)b.engine.suspend(b.me, id);
  }
}
BENCHMARK(BM_ResumeSuspend);

void BM_DurableProgressEvent(benchmark::State& state) {
  Bench b;
  JobId id = b.make_job();
  (void)b.engine.resume(b.me, id);
  const auto& req = b.transfer.starts.back();
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    TransferEvent ev;
    ev.job = id;
    ev.transfer_id = req.transfer_id;
    ev.kind = TransferEvent::Kind::Progress;
    ev.bytes_transferred = (bytes += 1 << 20);
    ev.durable = true;
    b.engine.on_transfer_event(ev);
  }
}
BENCHMARK(BM_DurableProgressEvent);

// Resume (then suspend) one job while N others wait in the queue: before the scheduler kept
// its jobs indexed this walked and sorted every job per call, so N jobs cost O(N^2) to start.
void BM_ResumeWithManyQueued(benchmark::State& state) {
  Bench b;
  for (int64_t i = 0; i < state.range(0); ++i) (void)b.engine.resume(b.me, b.make_job());
  JobId id = b.make_job();
  for (auto _ : state) {
    (void)b.engine.resume(b.me, id);
    (void)b.engine.suspend(b.me, id);
  }
}
BENCHMARK(BM_ResumeWithManyQueued)->Arg(100)->Arg(10'000)->Arg(100'000);

// The loop's per-iteration cost: next deadline plus tick with N queued jobs.
void BM_TickWithManyQueued(benchmark::State& state) {
  Bench b;
  for (int64_t i = 0; i < state.range(0); ++i) (void)b.engine.resume(b.me, b.make_job());
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.engine.next_deadline());
    b.engine.tick();
  }
}
BENCHMARK(BM_TickWithManyQueued)->Arg(100)->Arg(100'000);

}  // namespace
}  // namespace bgcopy::engine

BENCHMARK_MAIN();
