#include "cli/render.hpp"

#include "cli/format.hpp"
#include <bgcopy/codes.hpp>

#include <array>
#include <chrono>

namespace bgcopy::cli {
namespace {

constexpr std::size_t kLabelWidth = 22;

void field(std::string& out, std::string_view label, std::string_view value) {
  out += "  ";
  out += label;
  out += ':';
  out.append(label.size() + 1 < kLabelWidth ? kLabelWidth - label.size() - 1 : 1, ' ');
  out += value;
  out += '\n';
}

std::string single_quoted(std::string_view text) {
  return "'" + printable(text) + "'";
}

std::string optional_time(const std::optional<SystemTime>& t) {
  return t ? format_time(*t) : "-";
}

std::string seconds_setting(std::uint32_t s) {
  return std::to_string(s) + " s" + (s >= 60 ? " (" + format_duration(s) + ")" : "");
}

std::string range_text(const std::vector<FileRange>& ranges) {
  std::string out;
  for (const auto& r : ranges) {
    out += out.empty() ? "" : ",";
    out += std::to_string(r.offset) + ":" +
           (r.length == kLengthToEof ? std::string("eof") : std::to_string(r.length));
  }
  return out;
}

/// Shell-like rendering of an argv: words with special characters in single quotes.
std::string argv_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    out += out.empty() ? "" : " ";
    const bool plain =
        !arg.empty() && arg.find_first_of(" \t\n'\"\\$`;&|<>(){}*?!#~") == std::string::npos;
    if (plain) {
      out += printable(arg);
    } else {
      std::string q = "'";
      for (char c : arg) {
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      out += printable(q + "'");
    }
  }
  return out;
}

std::string proxy_text(const ProxySettings& p) {
  std::string out(proxy_usage_name(p.usage));
  if (!p.list.empty()) {
    out += " list " + single_quoted(p.list);
  }
  if (!p.bypass.empty()) {
    out += " bypass " + single_quoted(p.bypass);
  }
  return out;
}

}  // namespace

std::string printable(std::string_view text) {
  static constexpr std::array<char, 17> kHex{"0123456789abcdef"};
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_list_line(const JobInfo& job) {
  return job.id + " " + single_quoted(job.display_name) + " " + std::string(state_name(job.state)) +
         " " + format_count_pair(job.files_transferred, job.files_total) + " " +
         format_count_pair(job.bytes_transferred, job.bytes_total);
}

std::string render_list(const std::vector<JobInfo>& jobs) {
  std::string out;
  for (const auto& job : jobs) {
    out += render_list_line(job);
    out += '\n';
  }
  return out;
}

std::string_view file_status(const FileInfo& file) {
  if (file.completed) return "COMPLETED";
  if (file.transferred) return file.verified ? "VERIFIED" : "TRANSFERRED";
  if (file.bytes_transferred > 0) return "WORKING";
  return "PENDING";
}

std::string render_file_line(const FileInfo& file) {
  return std::to_string(file.index) + " " +
         format_count_pair(file.bytes_transferred, file.bytes_total) + " " +
         std::string(file_status(file)) + " " + printable(file.remote_url) + " -> " +
         printable(file.local_path);
}

std::string render_files(const std::vector<FileInfo>& files) {
  std::string out;
  for (const auto& file : files) {
    out += render_file_line(file);
    out += '\n';
  }
  return out;
}

std::string render_error(const ErrorInfo& error) {
  std::string out = hresult_hex(error.code) + " " + hresult_name(error.code);
  if (!error.message.empty()) {
    out += ": " + printable(error.message);
  }
  return out;
}

std::string render_info(const JobInfo& job, SystemTime now) {
  std::string out = "Job " + job.id + " " + single_quoted(job.display_name) + "\n";
  field(out, "state", state_name(job.state));
  if (!job.wait_reason.empty()) {
    field(out, "waiting", printable(job.wait_reason));
  }
  field(out, "type", type_name(job.type));
  field(out, "priority", priority_name(job.priority));
  field(out, "owner", printable(job.owner_name) + " (uid " + std::to_string(job.owner) + ")");
  field(out, "files", format_count_pair(job.files_transferred, job.files_total));
  std::string bytes = format_count_pair(job.bytes_transferred, job.bytes_total);
  if (job.bytes_total) {
    bytes += " (" + format_percent(job.bytes_transferred, job.bytes_total) + ", " +
             format_size(job.bytes_transferred) + " of " + format_size(*job.bytes_total) + ")";
  } else if (job.bytes_transferred > 0) {
    bytes += " (" + format_size(job.bytes_transferred) + ")";
  }
  field(out, "bytes", bytes);
  field(out, "created", format_time(job.created));
  field(out, "modified", format_time(job.modified));
  field(out, "transfer completed", optional_time(job.transfer_completed));
  std::string retry = optional_time(job.retry_at);
  if (job.retry_at) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(*job.retry_at - now);
    retry += left.count() > 0
                 ? " (in " + format_duration(static_cast<std::uint64_t>(left.count())) + ")"
                 : " (due)";
  }
  field(out, "retry at", retry);
  field(out, "error count", std::to_string(job.error_count));
  if (job.error) {
    field(out, "error", render_error(*job.error));
    field(out, "error context", context_name(job.error->context));
    if (job.error->file_index) {
      std::string file = "#" + std::to_string(*job.error->file_index);
      bool listed = false;
      for (const auto& f : job.files) {
        if (f.index == *job.error->file_index) {
          file += " " + printable(f.remote_url) + " -> " + printable(f.local_path);
          listed = true;
        }
      }
      if (!listed && !job.error->file.empty()) {
        file += " " + printable(job.error->file);
      }
      field(out, "error file", file);
    } else if (!job.error->file.empty()) {
      field(out, "error file", printable(job.error->file));
    }
  } else {
    field(out, "error", "none");
  }
  field(out, "description", single_quoted(job.description));
  field(out, "notify flags", format_notify_flags(job.notify_flags));
  field(out, "notify command line",
        job.notify_cmdline.empty() ? std::string("none") : argv_text(job.notify_cmdline));
  field(out, "min retry delay", seconds_setting(job.min_retry_delay));
  field(out, "no-progress timeout", seconds_setting(job.no_progress_timeout));
  field(out, "max download time", seconds_setting(job.max_download_time));
  field(out, "proxy", proxy_text(job.proxy));
  field(out, "tls verify", job.tls_verify ? "yes" : "NO (certificates are not checked)");
  out += "Files (" + std::to_string(job.files.size()) + "):\n";
  for (const auto& f : job.files) {
    out += "  " + render_file_line(f) + "\n";
    std::string extra;
    if (!f.ranges.empty()) {
      extra += "ranges " + range_text(f.ranges);
    }
    if (f.sha256) {
      extra += extra.empty() ? "" : "; ";
      extra += "sha256 " + printable(*f.sha256) + (f.verified ? " (verified)" : "");
    }
    if (f.restarts > 0) {
      extra += extra.empty() ? "" : "; ";
      extra += "restarted " + std::to_string(f.restarts) + " time" + (f.restarts == 1 ? "" : "s");
    }
    if (!extra.empty()) {
      out += "      " + extra + "\n";
    }
  }
  return out;
}

std::string render_progress(const JobInfo& job, std::optional<double> rate,
                            std::optional<double> eta, int bar_width) {
  std::string out(state_name(job.state));
  if (job.error && (job.state == JobState::Error || job.state == JobState::TransientError)) {
    out += " (" + hresult_name(job.error->code) + ")";
  }
  if (job.files_total == 0) {
    return out + " (no files)";
  }
  if (bar_width > 0) {
    out += " " + progress_bar(job.bytes_transferred, job.bytes_total, bar_width);
  }
  if (job.bytes_total) {
    out += " " + format_percent(job.bytes_transferred, job.bytes_total);
  }
  out += " " + format_size(job.bytes_transferred) + " / " +
         (job.bytes_total ? format_size(*job.bytes_total) : std::string("?"));
  const bool moving = job.state == JobState::Transferring || job.state == JobState::Connecting;
  if (moving && rate) {
    out += " " + format_rate(*rate);
    if (job.bytes_total) {
      out += " ETA " + format_eta(eta);
    }
  }
  return out;
}

}  // namespace bgcopy::cli
