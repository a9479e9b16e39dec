// The response-head parsers of src/transfer/http_headers.cpp, on arbitrary bytes: each parser
// on the whole input as a header value, and the input split into lines the way the curl header
// callback feeds them (status line, fields, blank line). Besides "no crash, no UB", checks what
// the transfer relies on: a parsed Content-Range is a non-empty, representable range inside its
// total; a parsed HTTP-date formats back to the same instant; a status is 100..999.
#include "fuzz_check.hpp"
#include "transfer/http_headers.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

namespace {

using namespace bgcopy::transfer;

void check_value(std::string_view value) {
  if (const auto cr = parse_content_range(value)) {
    if (cr->satisfied) {
      BGCOPY_FUZZ_CHECK(cr->first <= cr->last);
      // FetchSession takes length() bytes: it must be the true, non-zero count.
      BGCOPY_FUZZ_CHECK(cr->length() >= 1);
      BGCOPY_FUZZ_CHECK(cr->length() - 1 == cr->last - cr->first);
      BGCOPY_FUZZ_CHECK(!cr->total || cr->last < *cr->total);
    } else {
      BGCOPY_FUZZ_CHECK(cr->total.has_value());
    }
  }
  (void)parse_content_length(value);

  if (const auto t = parse_http_date(value)) {
    const std::string text = format_http_date(*t);
    const auto again = parse_http_date(text);
    BGCOPY_FUZZ_CHECK(again.has_value());
    BGCOPY_FUZZ_CHECK(*again == *t);
  }
  const bgcopy::WallTime now{std::chrono::seconds(1'700'000'000)};
  (void)parse_retry_after(value, now);
  (void)parse_retry_after(value, bgcopy::WallTime{});

  const std::string etag = etag_value(value);
  (void)is_weak_etag(etag);
  const auto trimmed = trim(value);
  BGCOPY_FUZZ_CHECK(trimmed.size() <= value.size());
  BGCOPY_FUZZ_CHECK(redact_url(value).size() <= value.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_value(input);

  // Line by line, as libcurl hands a header block to the header callback.
  std::string_view rest = input;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line =
        rest.substr(0, nl == std::string_view::npos ? rest.size() : nl + 1);
    rest.remove_prefix(line.size());
    if (const auto status = parse_status_line(line)) {
      BGCOPY_FUZZ_CHECK(*status >= 100 && *status <= 999);
      (void)http_reason_phrase(*status);
      continue;
    }
    if (is_blank_line(line)) {
      continue;
    }
    if (const auto field = split_header_line(line)) {
      BGCOPY_FUZZ_CHECK(!field->name.empty());
      (void)header_name_is(field->name, "Content-Range");
      check_value(field->value);
    }
  }
  return 0;
}
