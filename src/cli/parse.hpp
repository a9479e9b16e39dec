// Pure parsers for the bgcopy command line's arguments: range lists, list files, settings,
// durations. No I/O except where a function says so; every failure is a message for the user.
#pragma once

#include <bgcopy/result.hpp>
#include <bgcopy/types.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::cli {

/// "OFF:LEN[,OFF:LEN...]" where LEN may be "eof" (any case) for "to the end". Decimal numbers;
/// whitespace around items is allowed. Checks syntax and arithmetic overflow only; zero
/// lengths and overlaps are the service's to judge (it answers DO_E_INVALID_RANGE /
/// DO_E_OVERLAPPING_RANGES). E_INVALIDARG with a message naming the bad item.
Result<std::vector<FileRange>> parse_range_list(std::string_view text);

/// Exactly 64 hexadecimal digits; returned lower-case. E_INVALIDARG otherwise.
Result<std::string> parse_sha256(std::string_view text);

/// FOREGROUND | HIGH | NORMAL | LOW, any case. E_INVALIDARG otherwise.
Result<JobPriority> parse_priority_arg(std::string_view text);
/// download | upload | upload-reply (also upload_reply), any case. E_INVALIDARG otherwise.
Result<JobType> parse_type_arg(std::string_view text);

/// A non-negative number of seconds: "600", "1.5", or with a unit suffix "90s", "10m", "2h",
/// "14d". Returns whole milliseconds. E_INVALIDARG otherwise.
Result<std::uint64_t> parse_duration_ms(std::string_view text);

/// A list file of add-set: one "URL LOCAL_PATH" per line, separated by spaces or tabs (the
/// local path is the rest of the line, so it may contain spaces; surrounding whitespace is
/// trimmed); blank lines and lines whose first non-blank character is '#' are skipped; CR LF
/// line ends are accepted. Every local path must be absolute. `origin` names the file in
/// messages ("list.txt:3: ..."). E_INVALIDARG for a bad line or an empty list.
Result<std::vector<FileSpec>> parse_file_set(std::string_view text, std::string_view origin);

/// Splits a command line the way a POSIX shell would split words, without expanding anything:
/// whitespace separates words; '...' quotes literally; "..." quotes with \" \\ \$ \` escapes;
/// a backslash outside quotes escapes the next character. E_INVALIDARG for an unterminated
/// quote or a trailing backslash.
Result<std::vector<std::string>> split_command_line(std::string_view text);

/// The keys `bgcopy set` accepts, in the order `--help` lists them.
const std::vector<std::string_view>& setting_keys();

/// `bgcopy set JOB KEY VALUE...`: turns KEY and its values into a patch.
///   priority P | display-name TEXT | description TEXT | min-retry-delay DURATION |
///   no-progress-timeout DURATION | max-download-time DURATION | notify-flags N (decimal or
///   0x hex) | notify-cmdline PROGRAM [ARG...] (one value is split like a shell would; "" or
///   NULL removes it) | proxy preconfig|autodetect|no-proxy | proxy override LIST [BYPASS] |
///   tls-verify true|false.
/// Keys are case-insensitive and '_' may stand for '-'. E_INVALIDARG for an unknown key, a
/// bad value, or a wrong number of values.
Result<JobSettingsPatch> parse_setting(std::string_view key,
                                       const std::vector<std::string>& values);

/// `path` made absolute against `cwd` (if relative) and lexically normalised. Never touches the
/// file system.
std::string absolute_path(std::string_view path, const std::filesystem::path& cwd);

}  // namespace bgcopy::cli
