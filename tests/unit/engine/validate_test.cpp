// The pure validation functions of engine/validate.hpp.
#include "engine/validate.hpp"

#include "engine_fixture.hpp"

#include <gmock/gmock.h>

namespace bgcopy::engine::test {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

Hresult url_code(std::string_view url, const EngineConfig& config = EngineConfig{}) {
  return code_of(validate_url(url, config));
}
Hresult path_code(std::string_view path, const EngineConfig& config = EngineConfig{}) {
  return code_of(validate_local_path(path, config));
}
Hresult ranges_code(const std::vector<FileRange>& ranges, std::uint32_t max = 500) {
  return code_of(validate_ranges(ranges, max));
}

TEST(ValidateUrl, AcceptsHttpHttpsAndLocalFileUrls) {
  for (const char* url :
       {"http://example.com/a", "https://example.com/a/b?c=d#e", "HTTPS://Example.COM/x",
        "http://user:pw@host:8080/x", "http://[::1]:8080/x", "http://host", "file:///srv/x",
        "file://localhost/srv/x", "https://h/%20encoded"}) {
    SCOPED_TRACE(url);
    EXPECT_HR(validate_url(url, EngineConfig{}), hr::SOk);
  }
}

TEST(ValidateUrl, RejectsBadUrls) {
  for (const char* url :
       {"", "ftp://example.com/x", "example.com/x", "/local/path", "gopher://h/", "http://",
        "http:///x", "http://:80/x", "http://user@/x", "https://exa mple.com/", "http://h/a\tb",
        "http://h/\x7f", "file://remotehost/x", "file://", "file:relative",
        "javascript:alert(1)"}) {
    SCOPED_TRACE(url);
    EXPECT_EQ(hr_str(url_code(url)), hr_str(hr::EInvalidArg));
  }
}

TEST(ValidateUrl, LengthIsBounded) {
  EngineConfig config;
  config.max_url_length = 40;
  std::string url = "https://example.com/";
  url += std::string(40 - url.size(), 'a');
  EXPECT_HR(validate_url(url, config), hr::SOk);
  EXPECT_EQ(hr_str(url_code(url + "a", config)), hr_str(hr::EInvalidArg));
}

TEST(ValidateLocalPath, AcceptsAbsoluteNormalisedPaths) {
  for (const char* path : {"/a", "/home/alice/file.iso", "/tmp/.hidden", "/a/b c/d",
                           "/home/\xC3\xA9t\xC3\xA9/x", "/a/...", "/a/..b"}) {
    SCOPED_TRACE(path);
    EXPECT_HR(validate_local_path(path, EngineConfig{}), hr::SOk);
  }
}

TEST(ValidateLocalPath, RejectsRelativeUnnormalisedAndDirtyPaths) {
  for (const char* path :
       {"", "relative", "./x", "~/x", "/", "/a/", "/a//b", "/a/./b", "/a/../b", "/..", "/a/..",
        "/a/.", "/a/b\nc", "/a/b\tc", "/a/\x01", "/a/\x7f", "/a/\xff\xfe"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(hr_str(path_code(path)), hr_str(hr::EInvalidArg));
  }
}

TEST(ValidateLocalPath, ComponentAndTotalLengthsAreBounded) {
  EXPECT_HR(validate_local_path("/d/" + std::string(255, 'x'), EngineConfig{}), hr::SOk);
  EXPECT_EQ(hr_str(path_code("/d/" + std::string(256, 'x'))), hr_str(hr::EInvalidArg));
  EngineConfig config;
  config.max_path_length = 20;
  EXPECT_HR(validate_local_path("/" + std::string(19, 'x'), config), hr::SOk);
  EXPECT_EQ(hr_str(path_code("/" + std::string(20, 'x'), config)), hr_str(hr::EInvalidArg));
}

TEST(ValidateRanges, AcceptsDisjointRangesInAnyOrder) {
  EXPECT_HR(validate_ranges({{0, 100}}, 500), hr::SOk);
  EXPECT_HR(validate_ranges({{100, 100}, {900, 100}, {400, 100}}, 500), hr::SOk);
  EXPECT_HR(validate_ranges({{0, 100}, {100, 100}}, 500), hr::SOk);  // adjacent
  EXPECT_HR(validate_ranges({{5000, kLengthToEof}, {0, 100}}, 500), hr::SOk);
  EXPECT_HR(validate_ranges({{kLengthToEof - 1, 1}}, 500), hr::SOk);
}

TEST(ValidateRanges, RejectsEmptyInvalidAndOverlappingRanges) {
  EXPECT_EQ(hr_str(ranges_code({})), hr_str(hr::EInvalidArg));
  EXPECT_EQ(hr_str(ranges_code({{0, 0}})), hr_str(hr::DoEInvalidRange));
  EXPECT_EQ(hr_str(ranges_code({{kLengthToEof, 1}})), hr_str(hr::DoEInvalidRange));
  EXPECT_EQ(hr_str(ranges_code({{kLengthToEof, kLengthToEof}})), hr_str(hr::DoEInvalidRange));
  EXPECT_EQ(hr_str(ranges_code({{kLengthToEof - 1, 2}})), hr_str(hr::DoEInvalidRange));
  EXPECT_EQ(hr_str(ranges_code({{0, 101}, {100, 10}})), hr_str(hr::DoEOverlappingRanges));
  EXPECT_EQ(hr_str(ranges_code({{100, 10}, {0, 101}})), hr_str(hr::DoEOverlappingRanges));
  EXPECT_EQ(hr_str(ranges_code({{50, 10}, {50, 10}})), hr_str(hr::DoEOverlappingRanges));
  EXPECT_EQ(hr_str(ranges_code({{0, 1000}, {10, 10}})), hr_str(hr::DoEOverlappingRanges));
  EXPECT_EQ(hr_str(ranges_code({{0, kLengthToEof}, {10, 10}})), hr_str(hr::DoEOverlappingRanges));
}

TEST(ValidateRanges, CountIsBoundedUnlessUnlimited) {
  std::vector<FileRange> ranges;
  for (std::uint64_t i = 0; i < 4; ++i) ranges.push_back({i * 10, 5});
  EXPECT_EQ(hr_str(ranges_code(ranges, 3)), hr_str(hr::BgETooManyRangesInFile));
  EXPECT_EQ(hr::BgETooManyRangesInFile, 0x80200052U);
  EXPECT_HR(validate_ranges(ranges, 4), hr::SOk);
  EXPECT_HR(validate_ranges(ranges, 0), hr::SOk);  // 0 = unlimited
}

TEST(NormaliseSha256, AcceptsSixtyFourHexDigitsAndLowerCasesThem) {
  std::string hex = "0123456789ABCDEFabcdef" + std::string(42, 'F');
  ASSERT_HR(normalise_sha256(hex), hr::SOk);
  EXPECT_EQ(hex, "0123456789abcdefabcdef" + std::string(42, 'f'));
}

TEST(NormaliseSha256, RejectsWrongLengthsAndNonHex) {
  for (std::string hex :
       {std::string(), std::string(63, 'a'), std::string(65, 'a'), std::string(63, 'a') + "g",
        std::string(63, 'a') + " ", "0x" + std::string(62, 'a')}) {
    SCOPED_TRACE(hex);
    EXPECT_HR(normalise_sha256(hex), hr::EInvalidArg);
  }
}

TEST(IsCleanText, AcceptsPrintableUtf8) {
  EXPECT_TRUE(is_clean_text("", 0, false));
  EXPECT_TRUE(is_clean_text("plain ascii", 100, false));
  EXPECT_TRUE(is_clean_text("tab\tok", 100, false));
  EXPECT_TRUE(is_clean_text("\xC3\xA9t\xC3\xA9", 100, false));  // été
  EXPECT_TRUE(is_clean_text("\xE2\x82\xAC", 100, false));       // U+20AC
  EXPECT_TRUE(is_clean_text("\xF0\x9F\x98\x80", 100, false));   // U+1F600
  EXPECT_TRUE(is_clean_text("\xF4\x8F\xBF\xBF", 100, false));   // U+10FFFF
  EXPECT_TRUE(is_clean_text("\xEF\xBF\xBD", 100, false));       // U+FFFD
}

TEST(IsCleanText, NewlinesOnlyWhenAllowed) {
  EXPECT_FALSE(is_clean_text("a\nb", 100, false));
  EXPECT_FALSE(is_clean_text("a\rb", 100, false));
  EXPECT_TRUE(is_clean_text("a\nb", 100, true));
  EXPECT_TRUE(is_clean_text("a\r\nb", 100, true));
}

TEST(IsCleanText, RejectsControlCharacters) {
  EXPECT_FALSE(is_clean_text(std::string("a\0b", 3), 100, true));
  EXPECT_FALSE(is_clean_text("\x1b[31mred", 100, true));
  EXPECT_FALSE(is_clean_text("del\x7f", 100, true));
  EXPECT_FALSE(is_clean_text("\x01", 100, true));
  EXPECT_FALSE(
      is_clean_text("c1 \xC2\x9B"
                    "31m",
                    100, true));                       // U+009B CSI
  EXPECT_FALSE(is_clean_text("\xC2\x80", 100, true));  // U+0080
}

TEST(IsCleanText, RejectsInvalidUtf8) {
  for (const char* bad : {
           "\x80",                  // lone continuation byte
           "\xBF",                  // lone continuation byte
           "\xC3",                  // truncated two-byte sequence
           "\xE2\x82",              // truncated three-byte sequence
           "\xF0\x9F\x98",          // truncated four-byte sequence
           "\xC3\x28",              // bad continuation
           "\xE2\x28\xA1",          // bad continuation
           "\xC0\xAF",              // overlong '/'
           "\xC1\xBF",              // overlong
           "\xE0\x80\xAF",          // overlong '/' in three bytes
           "\xE0\x9F\xBF",          // overlong U+07FF
           "\xF0\x80\x80\xAF",      // overlong '/' in four bytes
           "\xF0\x8F\xBF\xBF",      // overlong U+FFFF
           "\xED\xA0\x80",          // UTF-16 surrogate U+D800
           "\xED\xBF\xBF",          // UTF-16 surrogate U+DFFF
           "\xF4\x90\x80\x80",      // U+110000, beyond Unicode
           "\xF5\x80\x80\x80",      // invalid lead byte
           "\xF8\x88\x80\x80\x80",  // five-byte form
           "\xFE",
           "\xFF",
       }) {
    SCOPED_TRACE(::testing::PrintToString(std::string(bad)));
    EXPECT_FALSE(is_clean_text(bad, 100, true));
    EXPECT_FALSE(is_clean_text(std::string("ok ") + bad + " ok", 100, true));
  }
}

TEST(IsCleanText, CountsCodePointsNotBytes) {
  EXPECT_TRUE(is_clean_text("abc", 3, false));
  EXPECT_FALSE(is_clean_text("abcd", 3, false));
  EXPECT_TRUE(is_clean_text("\xC3\xA9\xC3\xA9\xC3\xA9", 3, false));
  EXPECT_FALSE(is_clean_text("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3, false));
  EXPECT_TRUE(is_clean_text("\xF0\x9F\x98\x80", 1, false));
}

std::string hex_of(const JobId& id) {
  std::string hex;
  for (char c : id.to_string()) {
    if (c != '{' && c != '}' && c != '-') hex.push_back(c);
  }
  return hex;
}

TEST(StagingName, IsHiddenCarriesTheJobAndIndexAndEndsInPart) {
  const JobId id = JobId::generate();
  const std::string name = staging_name_for("/home/alice/dl/ubuntu.iso", id, 3);
  EXPECT_THAT(name, StartsWith(".ubuntu.iso"));
  EXPECT_THAT(name, HasSubstr(hex_of(id)));
  EXPECT_THAT(name, EndsWith("-3.part"));
  EXPECT_NE(name, "ubuntu.iso");
  EXPECT_EQ(name.find('/'), std::string::npos);
  EXPECT_EQ(name, ".ubuntu.iso.bgcopy-" + hex_of(id) + "-3.part");
}

TEST(StagingName, DiffersPerIndexAndPerJob) {
  const JobId a = JobId::generate();
  const JobId b = JobId::generate();
  EXPECT_NE(staging_name_for("/d/f", a, 0), staging_name_for("/d/f", a, 1));
  EXPECT_NE(staging_name_for("/d/f", a, 0), staging_name_for("/d/f", b, 0));
  EXPECT_EQ(staging_name_for("/d/f", a, 0), staging_name_for("/other/f", a, 0));  // a basename
}

TEST(StagingName, FitsNameMaxForALongestBasename) {
  const JobId id = JobId::generate();
  const std::string base(255, 'n');
  for (std::uint32_t index : {0U, 9U, 4'294'967'295U}) {
    SCOPED_TRACE(index);
    const std::string name = staging_name_for("/d/" + base, id, index);
    EXPECT_LE(name.size(), 255U);
    EXPECT_THAT(name, StartsWith(".nnnn"));
    EXPECT_THAT(name, HasSubstr(hex_of(id)));
    EXPECT_THAT(name, EndsWith("-" + std::to_string(index) + ".part"));
    EXPECT_HR(validate_local_path("/d/" + name, EngineConfig{}), hr::SOk);
  }
}

TEST(StagingName, ShorteningKeepsUtf8Whole) {
  const JobId id = JobId::generate();
  std::string base;
  while (base.size() < 253) base += "\xC3\xA9";  // 254 bytes of two-byte characters
  base.pop_back();
  base.pop_back();
  base += "x\xC3\xA9";  // odd split point
  ASSERT_LE(base.size(), 255U);
  const std::string name = staging_name_for("/d/" + base, id, 0);
  EXPECT_LE(name.size(), 255U);
  EXPECT_TRUE(is_clean_text(name, 255, false)) << name;
}

}  // namespace
}  // namespace bgcopy::engine::test
