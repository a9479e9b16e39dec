// HeldEvents and the matching rules for files fetched ahead (ahead.hpp): pure bookkeeping.
#include "transfer/ahead.hpp"

#include "test_util.hpp"

#include <gtest/gtest.h>

namespace bgcopy::transfer {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

engine::TransferEvent event(Kind kind, std::uint64_t bytes = 0, bool durable = false) {
  engine::TransferEvent ev;
  ev.kind = kind;
  ev.file_index = 3;
  ev.transfer_id = 0;
  ev.bytes_transferred = bytes;
  ev.durable = durable;
  return ev;
}

constexpr std::uint64_t kMax = 1000;

TEST(HeldEventsTest, ReleasesInOrderUnderTheAdoptingIdWithProgressCollapsed) {
  HeldEvents held;
  auto connected = event(Kind::Connected);
  connected.bytes_total = 900;
  EXPECT_EQ(held.hold(connected, kMax), HeldEvents::Verdict::Keep);
  EXPECT_EQ(held.hold(event(Kind::Progress, 100), kMax), HeldEvents::Verdict::Keep);
  EXPECT_EQ(held.hold(event(Kind::Progress, 400, true), kMax), HeldEvents::Verdict::Keep);
  EXPECT_EQ(held.hold(event(Kind::Progress, 700), kMax), HeldEvents::Verdict::Keep);
  EXPECT_EQ(held.hold(event(Kind::FileDone, 900), kMax), HeldEvents::Verdict::Keep);
  const auto out = held.release(42);
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[0].kind, Kind::Connected);
  EXPECT_EQ(out[1].kind, Kind::Progress);
  EXPECT_EQ(out[1].bytes_transferred, 700U) << "the newest progress stands for the others";
  EXPECT_EQ(out[2].kind, Kind::FileDone);
  for (const auto& ev : out) {
    EXPECT_EQ(ev.transfer_id, 42U);
    EXPECT_EQ(ev.file_index, 3U);
  }
  EXPECT_TRUE(held.release(43).empty()) << "released once";
}

TEST(HeldEventsTest, AFailureOrAFileLargerThanTheLimitGivesUp) {
  HeldEvents failed;
  EXPECT_EQ(failed.hold(event(Kind::Failed), kMax), HeldEvents::Verdict::GiveUp);
  HeldEvents announced;
  auto big = event(Kind::Connected);
  big.bytes_total = kMax + 1;
  EXPECT_EQ(announced.hold(big, kMax), HeldEvents::Verdict::GiveUp);
  HeldEvents grew;  // no length announced (chunked): gives up once it outgrows the limit
  EXPECT_EQ(grew.hold(event(Kind::Connected), kMax), HeldEvents::Verdict::Keep);
  EXPECT_EQ(grew.hold(event(Kind::Progress, kMax), kMax), HeldEvents::Verdict::Keep);
  EXPECT_EQ(grew.hold(event(Kind::Progress, kMax + 1), kMax), HeldEvents::Verdict::GiveUp);
}

TEST(HeldEventsTest, AFinalSyncMakesTheHeldFileDoneDurable) {
  HeldEvents held;
  held.hold(event(Kind::Connected), kMax);
  held.hold(event(Kind::FileDone, 500, false), kMax);
  EXPECT_TRUE(held.sync_pending());
  EXPECT_TRUE(held.synced(0));
  EXPECT_FALSE(held.sync_pending());
  const auto out = held.release(7);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_TRUE(out[1].durable) << "no Synced will follow: FileDone says it";
}

TEST(HeldEventsTest, AFailedFinalSyncAsksToGiveUp) {
  HeldEvents held;
  held.hold(event(Kind::FileDone, 500, false), kMax);
  EXPECT_FALSE(held.synced(EIO));
}

TEST(HeldEventsTest, ASyncedHeldAfterItsFileDoneIsNotPending) {
  // The syncer was full: the session flushed by itself and emitted Synced right away.
  HeldEvents held;
  held.hold(event(Kind::FileDone, 500, false), kMax);
  held.hold(event(Kind::Synced, 500, true), kMax);
  EXPECT_FALSE(held.sync_pending());
  EXPECT_EQ(held.release(9).size(), 2U);
}

TEST(AheadMatchTest, OnlyTheSameFileAtTheSamePointIsAdopted) {
  TempDir dir;
  auto request = make_request(dir, "http://127.0.0.1:1/f.bin");
  request.file_index = 2;
  const engine::AheadFile listed{2, request.file, 0};
  EXPECT_TRUE(same_file(listed, request));
  auto later = request;
  later.resume_from = 10;
  EXPECT_FALSE(same_file(listed, later));
  auto other_index = request;
  other_index.file_index = 3;
  EXPECT_FALSE(same_file(listed, other_index));
  auto other_url = request;
  other_url.file.spec.remote_url += "?v=2";
  EXPECT_FALSE(same_file(listed, other_url));
  auto other_version = request;
  other_version.file.validators.etag = "\"x\"";
  EXPECT_FALSE(same_file(listed, other_version));
}

TEST(AheadMatchTest, SettingsThatShapeAFetchMustBeEqual) {
  TempDir dir;
  const auto a = make_request(dir, "http://127.0.0.1:1/f.bin");
  auto b = a;
  b.file_index = 5;  // another file of the same job: fine
  b.transfer_id = 99;
  EXPECT_TRUE(same_settings(a, b));
  auto tls = a;
  tls.tls_verify = false;
  EXPECT_FALSE(same_settings(a, tls));
  auto proxy = a;
  proxy.proxy.usage = engine::ProxyUsage::NoProxy;
  EXPECT_FALSE(same_settings(a, proxy));
  auto capped = a;
  capped.max_recv_bps = 1000;
  EXPECT_FALSE(same_settings(a, capped));
  auto owner = a;
  owner.owner = 4242;
  EXPECT_FALSE(same_settings(a, owner));
}

}  // namespace
}  // namespace bgcopy::transfer
