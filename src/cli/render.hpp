// Text renderings of jobs for the command line: the `list` lines, the `files` lines, the
// `info` block and the one-line progress of `monitor` and `transfer`. Pure functions of their
// arguments (times print in the local zone, see format_time); --json output is
// bgcopy::to_json_string, not here.
#pragma once

#include <bgcopy/types.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bgcopy::cli {

/// Control characters as \n, \t, \r, \xHH so a name always stays on one line.
std::string printable(std::string_view text);

/// `{GUID} 'name' STATE files_done / files_total bytes_done / bytes_total|UNKNOWN`
std::string render_list_line(const JobInfo& job);
/// One render_list_line per job, each ending in '\n'; "" for no jobs.
std::string render_list(const std::vector<JobInfo>& jobs);

/// COMPLETED (renamed to its final name), VERIFIED (transferred, sha256 matched), TRANSFERRED,
/// WORKING (some bytes), PENDING (none yet).
std::string_view file_status(const FileInfo& file);
/// `INDEX done / total|UNKNOWN STATUS URL -> LOCAL_PATH`
std::string render_file_line(const FileInfo& file);
/// One render_file_line per file, each ending in '\n'.
std::string render_files(const std::vector<FileInfo>& files);

/// "0x80190194 BG_E_HTTP_ERROR_404: <message>"
std::string render_error(const ErrorInfo& error);

/// The readable `info` block: state, progress, times, error (code, name, context, file),
/// settings and files. `now` only serves relative times ("in 4m12s").
std::string render_info(const JobInfo& job, SystemTime now);

/// "TRANSFERRING [#####.....] 45.3% 12.3 MiB / 27.0 MiB 1.2 MiB/s ETA 0:12": state, then
/// progress when bytes are known, then rate and ETA when measured. bar_width 0 leaves out
/// the bar. For a job in (TRANSIENT_)ERROR the error's name follows the state.
std::string render_progress(const JobInfo& job, std::optional<double> rate,
                            std::optional<double> eta, int bar_width);

}  // namespace bgcopy::cli
