// Micro-benchmarks of the SQLite store's hot paths on a real database file (WAL,
// synchronous=NORMAL, as the daemon runs it): a job insert, a whole-job update (every state
// change), a progress checkpoint (one file row), and loading N jobs at start-up.
#include "base/guid.hpp"
#include "store/sqlite_job_store.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace bgcopy::store {
namespace {

using engine::FileRecord;
using engine::JobRecord;
using engine::JobState;

// A fresh database in its own temporary directory, removed afterwards.
struct TempStore {
  std::filesystem::path dir;
  std::unique_ptr<SqliteJobStore> store;
  TempStore() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bgcopy-bench.XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    store = std::move(SqliteJobStore::open((dir / "jobs.db").string())).value();
  }
  ~TempStore() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

JobRecord make_job(int files) {
  JobRecord r;
  r.id = JobId::generate();
  r.owner = 1000;
  r.state = JobState::Suspended;
  r.settings.display_name = "bench";
  for (int i = 0; i < files; ++i) {
    FileRecord f;
    f.spec.remote_url = "http://127.0.0.1:8080/file" + std::to_string(i);
    f.spec.local_path = "/tmp/bench/file" + std::to_string(i);
    f.staging_name = ".bgcopy-" + r.id.to_string() + "-" + std::to_string(i);
    r.files.push_back(f);
  }
  return r;
}

void BM_StoreInsertJob(benchmark::State& state) {
  TempStore t;
  for (auto _ : state) {
    JobRecord r = make_job(1);
    if (!t.store->insert(r)) state.SkipWithError("insert failed");
  }
}
BENCHMARK(BM_StoreInsertJob);

// Every state change rewrites the job row and its file rows: cost grows with the file count.
void BM_StoreUpdateJob(benchmark::State& state) {
  TempStore t;
  JobRecord r = make_job(static_cast<int>(state.range(0)));
  (void)t.store->insert(r);
  bool queued = false;
  for (auto _ : state) {
    r.state = (queued = !queued) ? JobState::Queued : JobState::Suspended;
    if (!t.store->update(r)) state.SkipWithError("update failed");
  }
}
BENCHMARK(BM_StoreUpdateJob)->Arg(1)->Arg(10)->Arg(1000);

// A durable progress checkpoint: one file row.
void BM_StoreCheckpoint(benchmark::State& state) {
  TempStore t;
  JobRecord r = make_job(1);
  (void)t.store->insert(r);
  FileRecord f = r.files[0];
  for (auto _ : state) {
    f.bytes_transferred += 1 << 20;
    if (!t.store->update_file(r.id, 0, f)) state.SkipWithError("update_file failed");
  }
}
BENCHMARK(BM_StoreCheckpoint);

void BM_StoreLoadAll(benchmark::State& state) {
  TempStore t;
  for (int64_t i = 0; i < state.range(0); ++i) (void)t.store->insert(make_job(1));
  for (auto _ : state) {
    auto jobs = t.store->load_all();
    benchmark::DoNotOptimize(jobs);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StoreLoadAll)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bgcopy::store

BENCHMARK_MAIN();
