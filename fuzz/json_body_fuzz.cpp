// Every answer libbgcopy decodes from bgcopyd (src/client/wire.cpp over src/proto/json.cpp):
// health, job, job list, file list, job error, action result, event line, and the error body of
// a failed call. The same bytes go to each decoder. A decoder either fails with
// BG_E_INVALID_SERVER_RESPONSE or yields a value that the library can print as JSON again
// (bgcopy::to_json_string, what `bgcopy info --json` shows) and decode back to the same value.
#include "client/wire.hpp"
#include "fuzz_check.hpp"
#include <bgcopy/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace bgcopy;
namespace wire = bgcopy::client::wire;

void expect_failure_shape(const wire::Outcome& failed) {
  if (failed) {
    BGCOPY_FUZZ_CHECK(failed->code == hr::BgEInvalidServerResponse);
    BGCOPY_FUZZ_CHECK(!failed->message.empty());
  }
}

// A decoded value printed by the library and decoded again is unchanged: nothing the service
// sends is silently altered on the way to `bgcopy ... --json` and back.
template <class T, class Decode>
void check_reprint(const T& value, Decode decode) {
  T again{};
  const auto failed = decode(to_json_string(value, -1), again);
  BGCOPY_FUZZ_CHECK(!failed);
  BGCOPY_FUZZ_CHECK(again == value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  wire::Health health;
  expect_failure_shape(wire::decode_health(body, health));

  JobInfo job;
  const auto job_failed = wire::decode_job(body, job);
  expect_failure_shape(job_failed);
  if (!job_failed) {
    check_reprint(job,
                  [](std::string_view text, auto& out) { return wire::decode_job(text, out); });
  }

  std::vector<JobInfo> jobs;
  const auto jobs_failed = wire::decode_job_list(body, jobs);
  expect_failure_shape(jobs_failed);
  if (!jobs_failed) {
    BGCOPY_FUZZ_CHECK(!to_json_string(jobs, 2).empty());
    for (const auto& j : jobs) {
      check_reprint(j,
                    [](std::string_view text, auto& out) { return wire::decode_job(text, out); });
    }
  }

  std::vector<FileInfo> files;
  const auto files_failed = wire::decode_file_list(body, files);
  expect_failure_shape(files_failed);
  if (!files_failed) {
    BGCOPY_FUZZ_CHECK(!to_json_string(files, -1).empty());
  }

  ErrorInfo error;
  const auto error_failed = wire::decode_error_info(body, error);
  expect_failure_shape(error_failed);
  if (!error_failed) {
    check_reprint(
        error, [](std::string_view text, auto& out) { return wire::decode_error_info(text, out); });
  }

  JobEvent event;
  const auto event_failed = wire::decode_event(body, event);
  expect_failure_shape(event_failed);
  if (!event_failed) {
    check_reprint(event,
                  [](std::string_view text, auto& out) { return wire::decode_event(text, out); });
  }

  Hresult code = hr::SOk;
  std::string message;
  std::optional<JobInfo> action_job;
  expect_failure_shape(wire::decode_action(body, code, message, action_job));

  // An error answer never turns into success, whatever its body says.
  const auto failure = wire::decode_failure(500, body);
  BGCOPY_FUZZ_CHECK(!succeeded(failure.code));
  return 0;
}
