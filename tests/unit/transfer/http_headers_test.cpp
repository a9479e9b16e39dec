#include "transfer/http_headers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>

namespace bgcopy::transfer {
namespace {

using std::chrono::seconds;

WallTime at_unix(std::int64_t s) {
  return WallTime{seconds{s}};
}

// --- Content-Range ---

TEST(ContentRange, ParsesAFullForm) {
  const auto cr = parse_content_range("bytes 100-199/1000");
  ASSERT_TRUE(cr);
  EXPECT_TRUE(cr->satisfied);
  EXPECT_EQ(cr->first, 100U);
  EXPECT_EQ(cr->last, 199U);
  EXPECT_EQ(cr->total, std::optional<std::uint64_t>(1000));
  EXPECT_EQ(cr->length(), 100U);
}

TEST(ContentRange, ParsesAnUnknownTotal) {
  const auto cr = parse_content_range("bytes 0-0/*");
  ASSERT_TRUE(cr);
  EXPECT_EQ(cr->first, 0U);
  EXPECT_EQ(cr->last, 0U);
  EXPECT_FALSE(cr->total);
}

TEST(ContentRange, ParsesAnUnsatisfiedRange) {
  const auto cr = parse_content_range("bytes */4096");
  ASSERT_TRUE(cr);
  EXPECT_FALSE(cr->satisfied);
  EXPECT_EQ(cr->total, std::optional<std::uint64_t>(4096));
}

TEST(ContentRange, ToleratesCaseAndWhitespace) {
  EXPECT_TRUE(parse_content_range("  Bytes 1-2/3 \r\n"));
  EXPECT_TRUE(parse_content_range("BYTES\t1-2/3"));
  EXPECT_TRUE(parse_content_range("bytes   1-2/3"));
}

TEST(ContentRange, HandlesTheLargestValues) {
  const auto cr = parse_content_range("bytes 0-18446744073709551613/18446744073709551614");
  ASSERT_TRUE(cr);
  EXPECT_EQ(cr->last, std::numeric_limits<std::uint64_t>::max() - 2);
}

// Caught by fuzz/http_headers' property "length() >= 1": without a total, 0-(2^64-1) was
// accepted and its length() wrapped to 0, which FetchSession takes as the byte count to append.
TEST(ContentRange, RejectsARangeWhoseLengthDoesNotFit) {
  EXPECT_FALSE(parse_content_range("bytes 0-18446744073709551615/*"));
  const auto one_less = parse_content_range("bytes 1-18446744073709551615/*");
  ASSERT_TRUE(one_less);
  EXPECT_EQ(one_less->length(), std::numeric_limits<std::uint64_t>::max());
}

TEST(ContentRange, RejectsMalformedValues) {
  for (const char* bad : {"",
                          "bytes",
                          "bytes ",
                          "bytes 1-2",
                          "bytes 1-2/",
                          "bytes -2/3",
                          "bytes 1-/3",
                          "bytes 2-1/3",
                          "bytes 0-3/3",
                          "bytes */*",
                          "bytes 1-2/x",
                          "bytes +1-2/3",
                          "bytes 1-2/3x",
                          "bytes 1 - 2/3",
                          "items 1-2/3",
                          "bytes1-2/3",
                          "bytes 18446744073709551616-1/2",
                          "bytes 0-1/99999999999999999999",
                          "bytes 1-2/-3",
                          "bytes a-b/c"}) {
    EXPECT_FALSE(parse_content_range(bad)) << bad;
  }
}

// --- header lines ---

TEST(HeaderLine, SplitsNameAndTrimmedValue) {
  const auto f = split_header_line("Content-Length:   42  \r\n");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->name, "Content-Length");
  EXPECT_EQ(f->value, "42");
}

TEST(HeaderLine, KeepsColonsInTheValue) {
  const auto f = split_header_line("Location: http://h:80/x\r\n");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->value, "http://h:80/x");
}

TEST(HeaderLine, AllowsAnEmptyValue) {
  const auto f = split_header_line("X-Empty:\r\n");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->value, "");
}

TEST(HeaderLine, RejectsNonHeaders) {
  EXPECT_FALSE(split_header_line("HTTP/1.1 200 OK\r\n"));
  EXPECT_FALSE(split_header_line("\r\n"));
  EXPECT_FALSE(split_header_line(" folded: continuation\r\n"));
  EXPECT_FALSE(split_header_line(": no name\r\n"));
  EXPECT_FALSE(split_header_line("Bad Name: x\r\n"));
  EXPECT_FALSE(split_header_line("no colon at all\r\n"));
}

TEST(HeaderLine, NamesCompareCaseInsensitively) {
  EXPECT_TRUE(header_name_is("content-range", "Content-Range"));
  EXPECT_TRUE(header_name_is("ETAG", "ETag"));
  EXPECT_FALSE(header_name_is("ETags", "ETag"));
  EXPECT_FALSE(header_name_is("", "ETag"));
}

TEST(HeaderLine, BlankLines) {
  EXPECT_TRUE(is_blank_line("\r\n"));
  EXPECT_TRUE(is_blank_line("\n"));
  EXPECT_FALSE(is_blank_line(""));
  EXPECT_FALSE(is_blank_line(" \r\n"));
}

// --- status line ---

TEST(StatusLine, ParsesHttp1AndHttp2) {
  EXPECT_EQ(parse_status_line("HTTP/1.1 206 Partial Content\r\n"), std::optional<int>(206));
  EXPECT_EQ(parse_status_line("HTTP/1.0 404 Not Found\r\n"), std::optional<int>(404));
  EXPECT_EQ(parse_status_line("HTTP/2 200 \r\n"), std::optional<int>(200));
  EXPECT_EQ(parse_status_line("HTTP/2 200\r\n"), std::optional<int>(200));
  EXPECT_EQ(parse_status_line("HTTP/1.1 100 Continue\r\n"), std::optional<int>(100));
  EXPECT_EQ(parse_status_line("HTTP/3 503"), std::optional<int>(503));
}

TEST(StatusLine, RejectsOtherLines) {
  for (const char* bad :
       {"", "HTTP/", "HTTP/1.1", "HTTP/1.1 ", "HTTP/1.1 20", "HTTP/1.1 2000", "HTTP/1.1 abc",
        "http/1.1 200 OK", "Content-Length: 5", "HTTP/x.y 200", "HTTP/1.1 099 Low"}) {
    EXPECT_FALSE(parse_status_line(bad)) << bad;
  }
}

// --- Content-Length ---

TEST(ContentLength, Parses) {
  EXPECT_EQ(parse_content_length("0"), std::optional<std::uint64_t>(0));
  EXPECT_EQ(parse_content_length(" 1234 "), std::optional<std::uint64_t>(1234));
  EXPECT_EQ(parse_content_length("42, 42"), std::optional<std::uint64_t>(42));
  EXPECT_FALSE(parse_content_length("42, 43"));
  EXPECT_FALSE(parse_content_length(""));
  EXPECT_FALSE(parse_content_length("-1"));
  EXPECT_FALSE(parse_content_length("1e3"));
  EXPECT_FALSE(parse_content_length("99999999999999999999999"));
}

// --- dates ---

TEST(HttpDate, ParsesTheThreeForms) {
  // RFC 9110's example instant: 784111777.
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            std::optional<std::int64_t>(784111777));
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            std::optional<std::int64_t>(784111777));
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), std::optional<std::int64_t>(784111777));
}

TEST(HttpDate, ParsesEpochAndLeapDay) {
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), std::optional<std::int64_t>(0));
  EXPECT_EQ(parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT"),
            std::optional<std::int64_t>(1709208000));
}

TEST(HttpDate, RejectsNonsense) {
  for (const char* bad : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37",
                          "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 29 Feb 2023 00:00:00 GMT",
                          "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Nov 1994 08:49:37 GMT trailing",
                          "Xyz Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 8:49:37 GMT"}) {
    EXPECT_FALSE(parse_http_date(bad)) << bad;
  }
}

TEST(HttpDate, FormatsImfFixdate) {
  EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_http_date(1709208000), "Thu, 29 Feb 2024 12:00:00 GMT");
}

TEST(HttpDate, FormatAndParseRoundTrip) {
  for (std::int64_t t : {0LL, 1LL, 86399LL, 951782400LL, 1700000000LL, 4102444800LL}) {
    EXPECT_EQ(parse_http_date(format_http_date(t)), std::optional<std::int64_t>(t)) << t;
  }
}

// --- Retry-After ---

TEST(RetryAfter, DeltaSeconds) {
  const auto now = at_unix(1'700'000'000);
  EXPECT_EQ(parse_retry_after("120", now), std::optional<std::uint32_t>(120));
  EXPECT_EQ(parse_retry_after(" 0 ", now), std::optional<std::uint32_t>(0));
  EXPECT_EQ(parse_retry_after("99999999999999999999", now),
            std::optional<std::uint32_t>(std::numeric_limits<std::uint32_t>::max()));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("12s", now));
  EXPECT_FALSE(parse_retry_after("", now));
}

TEST(RetryAfter, HttpDateRelativeToNow) {
  const auto now = at_unix(784111777 - 90);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            std::optional<std::uint32_t>(90));
  // A date in the past means "now".
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at_unix(784111777 + 5)),
            std::optional<std::uint32_t>(0));
  // A fraction of a second left rounds up.
  const auto almost = WallTime{std::chrono::milliseconds(784111777LL * 1000 - 1500)};
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", almost),
            std::optional<std::uint32_t>(2));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994", now));
}

// --- ETag and misc ---

TEST(ETag, PassesThroughTrimmed) {
  EXPECT_EQ(etag_value(" \"abc\" "), "\"abc\"");
  EXPECT_EQ(etag_value("W/\"abc\""), "W/\"abc\"");
  EXPECT_TRUE(is_weak_etag("W/\"abc\""));
  EXPECT_TRUE(is_weak_etag(" w/\"abc\""));
  EXPECT_FALSE(is_weak_etag("\"W/abc\""));
  EXPECT_FALSE(is_weak_etag(""));
}

TEST(Misc, ReasonPhrases) {
  EXPECT_EQ(http_reason_phrase(404), "Not Found");
  EXPECT_EQ(http_reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(http_reason_phrase(299), "");
}

TEST(Misc, RedactUrlDropsCredentials) {
  EXPECT_EQ(redact_url("http://user:secret@host:8080/a?b=c"), "http://host:8080/a?b=c");
  EXPECT_EQ(redact_url("https://host/p@th"), "https://host/p@th");
  EXPECT_EQ(redact_url("https://a@b@host/x"), "https://host/x");
  EXPECT_EQ(redact_url("not a url"), "not a url");
  EXPECT_EQ(redact_url("file:///tmp/x"), "file:///tmp/x");
}

TEST(Misc, Trim) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t "), "");
}

}  // namespace
}  // namespace bgcopy::transfer
