// bgcopyd.toml from a buffer (src/daemon/config.cpp, toml++ underneath). A file either parses
// into values inside the documented bounds or fails with E_INVALIDARG naming the source; and
// parse_byte_size on the same bytes (it also reads strings out of the file).
#include "daemon/config.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = bgcopy::daemon::parse_config(text, "fuzz.toml");
  if (config) {
    const auto& e = config->engine;
    BGCOPY_FUZZ_CHECK(e.max_background_jobs >= 1 && e.max_background_jobs <= 1024);
    BGCOPY_FUZZ_CHECK(e.time_slice_s >= 1);
    BGCOPY_FUZZ_CHECK(e.max_display_name >= 1 && e.max_display_name <= 256);
    BGCOPY_FUZZ_CHECK(e.max_description >= 1 && e.max_description <= 1024);
    BGCOPY_FUZZ_CHECK(e.checkpoint_bytes >= 4096 && e.checkpoint_bytes <= (1ULL << 32));
    BGCOPY_FUZZ_CHECK(e.checkpoint_ms >= 10);
    BGCOPY_FUZZ_CHECK(config->api.max_connections >= 1 && config->api.max_connections <= 65536);
  } else {
    BGCOPY_FUZZ_CHECK(config.error().code == bgcopy::hr::EInvalidArg);
    BGCOPY_FUZZ_CHECK(config.error().message.rfind("fuzz.toml", 0) == 0);
  }
  if (const auto bytes = bgcopy::daemon::parse_byte_size(text)) {
    BGCOPY_FUZZ_CHECK(!text.empty() && text.front() >= '0' && text.front() <= '9');
  }
  return 0;
}
